using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// Speculative verification: for each sequence, the model's logits at its last token and at each of k proposed
/// tokens decide how many proposals to keep and the one token after them, such that what is emitted is
/// distributed exactly as plain decoding would sample it, for every setting the <see cref="Sampler"/> supports.
/// </summary>
/// <remarks>
/// Row j is processed (<see cref="LogitProcessor"/>) as the row of plain decoding after the proposals before it
/// were emitted, so penalties, min-tokens and bias see the same context. Proposals come from deterministic
/// proposers (a point mass q), so proposal j is kept with probability p_j(x_j); at the first rejection the
/// replacement is drawn from p_j with x_j removed and renormalised (max(0, p - q) normalised, for that q); when all
/// k are kept, one more token is drawn from p_k. A greedy row keeps a proposal when it is the row's argmax, which
/// emits exactly the greedy tokens. Each draw uses its own counter-based stream (<see cref="DrawStream"/>) at the
/// output position it decides, so seeded results are the same whatever the batch. Logprobs, top alternatives and
/// supports are those of the rows the emitted tokens came from: the target's.
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

        var accepted = Accept(x, sequences, rows, firstRow);
        // The row each sequence draws its last token from: the first rejected, or the one past every proposal.
        var finalRows = new long[sequences.Count];
        var uniforms = new double[sequences.Count];
        var residualMask = new List<long>();
        long vocab = x.shape[1];
        for (int i = 0; i < sequences.Count; i++)
        {
            var v = sequences[i];
            int a = accepted[i];
            var row = rows[firstRow[i] + a];
            finalRows[i] = firstRow[i] + a;
            int position = row.OutputTokenIds.Count;
            if (v.Row.Params.IsGreedy) continue;
            bool rejected = a < v.Proposal.Length;
            uniforms[i] = sampler.Uniform(row, rejected ? DrawStream.Residual : DrawStream.Sample, position);
            if (rejected) residualMask.Add(i * vocab + v.Proposal[a]);
        }
        var final = x.index_select(0, tensor(finalRows, device: x.device));
        if (residualMask.Count > 0) final = final.clone().view(-1).index_fill_(0, tensor(residualMask.ToArray(), device: x.device), float.NegativeInfinity).view(final.shape);
        var last = sampler.Choose(final, finalRows.Select(r => rows[(int)r]).ToArray(), uniforms).cpu().data<long>().ToArray();

        var emittedRows = new List<long>();
        var emittedTokens = new List<long>();
        for (int i = 0; i < sequences.Count; i++)
        {
            for (int j = 0; j < accepted[i]; j++)
            {
                emittedRows.Add(firstRow[i] + j);
                emittedTokens.Add(sequences[i].Proposal[j]);
            }
            emittedRows.Add(finalRows[i]);
            emittedTokens.Add(last[i]);
        }
        var index = tensor(emittedRows.ToArray(), device: x.device);
        var collected = Sampler.Collect(tensor(emittedTokens.ToArray(), device: x.device), rawLogprobs?.index_select(0, index), x.index_select(0, index),
            emittedRows.Select(r => rows[(int)r]).ToArray()).Tokens;

        var output = new IReadOnlyList<ScoredToken>[sequences.Count];
        int next = 0;
        for (int i = 0; i < sequences.Count; i++)
        {
            output[i] = collected.Skip(next).Take(accepted[i] + 1).ToArray();
            next += accepted[i] + 1;
        }
        return output;
    }

    /// <summary>How many leading proposals each sequence keeps.</summary>
    int[] Accept(Tensor x, IReadOnlyList<Verification> sequences, List<SamplingRow> rows, int[] firstRow)
    {
        var accepted = new int[sequences.Count];
        bool anyGreedy = sequences.Any(v => v.Row.Params.IsGreedy && v.Proposal.Length > 0);
        var argmax = anyGreedy ? sampler.ArgMax(x) : null;

        // p_j(x_j) of every proposed token of the sampled sequences, in float64 so a certain token is exactly 1.
        var proposedRows = new List<long>();
        var proposedTokens = new List<long>();
        foreach (var (i, v) in sequences.Index())
        {
            if (v.Row.Params.IsGreedy) continue;
            for (int j = 0; j < v.Proposal.Length; j++)
            {
                proposedRows.Add(firstRow[i] + j);
                proposedTokens.Add(v.Proposal[j]);
            }
        }
        double[] probabilities = [];
        if (proposedRows.Count > 0)
        {
            var device = x.device;
            probabilities = x.index_select(0, tensor(proposedRows.ToArray(), device: device)).softmax(-1, ScalarType.Float64)
                .gather(1, tensor(proposedTokens.ToArray(), device: device).unsqueeze(1)).cpu().data<double>().ToArray();
        }

        int next = 0;
        foreach (var (i, v) in sequences.Index())
        {
            int a = 0;
            if (v.Row.Params.IsGreedy)
            {
                while (a < v.Proposal.Length && argmax![firstRow[i] + a] == v.Proposal[a]) a++;
            }
            else
            {
                while (a < v.Proposal.Length)
                {
                    var row = rows[firstRow[i] + a];
                    if (sampler.Uniform(row, DrawStream.Accept, row.OutputTokenIds.Count) >= probabilities[next + a]) break;
                    a++;
                }
                next += v.Proposal.Length;
            }
            accepted[i] = a;
        }
        return accepted;
    }
}

/// <summary>One sequence to verify: its sampling row at its last token, and the tokens proposed to follow it.</summary>
internal sealed record Verification(SamplingRow Row, int[] Proposal);

/// <summary>A sequence's output followed by the first <c>count</c> tokens of a proposal, without copying either.</summary>
internal sealed class ProposedTokens(IReadOnlyList<int> output, int[] proposal, int count) : IReadOnlyList<int>
{
    public int Count => output.Count + count;

    public int this[int index] => index < output.Count ? output[index]
        : (uint)(index - output.Count) < (uint)count ? proposal[index - output.Count] : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<int> GetEnumerator()
    {
        foreach (int token in output) yield return token;
        for (int i = 0; i < count; i++) yield return proposal[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
