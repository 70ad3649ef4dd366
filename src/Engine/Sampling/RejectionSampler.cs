using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// Speculative verification: for each sequence, the model's logits at its last token and at each of k proposed
/// tokens decide how many proposals to keep and the one token after them, such that what is emitted is exactly
/// what plain decoding would have drawn, for every setting the <see cref="Sampler"/> supports.
/// </summary>
/// <remarks>
/// Row j is processed (<see cref="LogitProcessor"/>) as the row of plain decoding after the proposals before it were
/// emitted, so penalties, min-tokens and bias see the same context, and every row draws its token as plain decoding
/// draws it: the inverse CDF at the row's own counter-based number (<see cref="Sampler.Uniform"/>, keyed by seed,
/// sample and output position), or the argmax of a greedy row. Proposal j is kept when row j draws it, which happens
/// with probability p_j(x_j); at the first row that draws something else, that draw is the token emitted, distributed
/// as p_j given it is not x_j; when all k are kept, the last row's draw follows. That is rejection sampling of a
/// point-mass proposal (proposers are deterministic) with the acceptance test and the replacement coupled to the one
/// number plain decoding would use, so the output distribution is the target's and a seeded sequence gets the same
/// tokens with speculation or without, in any batch. Logprobs, top alternatives and supports are those of the rows
/// the emitted tokens came from: the target's.
/// </remarks>
internal sealed class RejectionSampler(Sampler sampler)
{
    /// <summary>
    /// Verifies every sequence's proposal against <paramref name="logits"/> ([sum of (k_i + 1), vocab]: each
    /// sequence's rows in order, the row at its last token first). Returns, per sequence, the emitted tokens: the
    /// kept proposals then one more.
    /// </summary>
    public IReadOnlyList<ScoredToken>[] Verify(Tensor logits, IReadOnlyList<Verification> sequences)
    {
        var rows = new List<SamplingRow>();
        var firstRow = new int[sequences.Count];
        foreach (var (i, v) in sequences.Index())
        {
            firstRow[i] = rows.Count;
            for (int j = 0; j <= v.Proposal.Length; j++) rows.Add(v.Row with { OutputTokenIds = new ProposedTokens(v.Row.OutputTokenIds, v.Proposal, j) });
        }
        if (logits.dim() != 2 || logits.shape[0] != rows.Count)
            throw new ArgumentException($"logits must be [{rows.Count}, vocab] for {sequences.Count} verifications, got [{string.Join(", ", logits.shape)}]", nameof(logits));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = logits.to(ScalarType.Float32).contiguous();
        var rawLogprobs = Sampler.WantsRaw(rows) ? x.log_softmax(-1) : null;
        x = LogitProcessor.Apply(x, rows);
        var uniforms = rows.Select(r => r.Params.IsGreedy ? 0.0 : sampler.Uniform(r, r.OutputTokenIds.Count)).ToArray();
        var drawn = sampler.Choose(x, rows, uniforms).cpu().data<long>().ToArray();

        var emittedRows = new List<long>();
        var emittedTokens = new List<long>();
        var counts = new int[sequences.Count];
        for (int i = 0; i < sequences.Count; i++)
        {
            var proposal = sequences[i].Proposal;
            int kept = 0;
            while (kept < proposal.Length && drawn[firstRow[i] + kept] == proposal[kept]) kept++;
            for (int j = 0; j <= kept; j++)
            {
                emittedRows.Add(firstRow[i] + j);
                emittedTokens.Add(drawn[firstRow[i] + j]);
            }
            counts[i] = kept + 1;
        }
        var index = tensor(emittedRows.ToArray(), device: x.device);
        var collected = Sampler.Collect(tensor(emittedTokens.ToArray(), device: x.device), rawLogprobs?.index_select(0, index), x.index_select(0, index),
            emittedRows.Select(r => rows[(int)r]).ToArray()).Tokens;

        var output = new IReadOnlyList<ScoredToken>[sequences.Count];
        int next = 0;
        for (int i = 0; i < sequences.Count; i++)
        {
            output[i] = collected.Skip(next).Take(counts[i]).ToArray();
            next += counts[i];
        }
        return output;
    }
}
