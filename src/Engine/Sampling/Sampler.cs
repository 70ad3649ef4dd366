using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// Chooses the next token of every row of a batch from its logits, on the logits' device: the
/// <see cref="LogitProcessor"/> transforms, then the draw.
/// </summary>
/// <remarks>
/// A row draws with one uniform number from <see cref="CounterRandom"/>, keyed by (seed, sample index, output
/// position), and inverts its CDF with it; speculative verification (<see cref="RejectionSampler"/>) draws each
/// verified position with the same number. Every tensor operation is row-wise, so a seeded row gets the same
/// token alone or in any batch. Not thread-safe: one engine loop owns a sampler.
/// </remarks>
internal sealed class Sampler
{
    readonly long _unseededKey;
    readonly bool _fastKernels;
    long _unseededDraws;

    /// <param name="random">Seeds the stream that rows without a seed draw from; a random one when null.</param>
    /// <param name="fastKernels">Whether greedy rows may take <see cref="GreedyArgMax"/> where it supports the logits (<see cref="Models.CpuKernels.Fast"/>).</param>
    public Sampler(Random? random = null, bool fastKernels = true)
    {
        _unseededKey = (random ?? Random.Shared).NextInt64(long.MinValue, long.MaxValue);
        _fastKernels = fastKernels;
    }

    /// <summary>Chooses one token per row of <paramref name="logits"/> ([rows, vocab], any float dtype, any device).</summary>
    public SamplerOutput Sample(Tensor logits, IReadOnlyList<SamplingRow> rows)
    {
        if (logits.dim() != 2 || logits.shape[0] != rows.Count)
            throw new ArgumentException($"logits must be [{rows.Count}, vocab] for {rows.Count} rows, got [{string.Join(", ", logits.shape)}]", nameof(logits));
        if (rows.Count == 0) return new SamplerOutput([]);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = logits.to(ScalarType.Float32).contiguous();
        var rawLogprobs = rows.Any(r => Wants(r, LogprobsMode.Raw)) ? x.log_softmax(-1) : null;
        x = LogitProcessor.Apply(x, rows);
        var tokens = Choose(x, rows, rows.Select(r => r.Params.IsGreedy ? 0.0 : Uniform(r, r.OutputTokenIds.Count)).ToArray());
        return Collect(tokens, rawLogprobs, x, rows);
    }

    /// <summary>Whether any row asks for logprobs of the model's own distribution, before any processing.</summary>
    internal static bool WantsRaw(IReadOnlyList<SamplingRow> rows) => rows.Any(r => Wants(r, LogprobsMode.Raw));

    static bool Wants(SamplingRow row, LogprobsMode mode) => row.Params.Logprobs is not null && row.Params.LogprobsMode == mode;

    /// <summary>The greedy choice of every row of processed logits ([rows, vocab] float32).</summary>
    long[] ArgMax(Tensor x) => _fastKernels && GreedyArgMax.Supports(x) ? GreedyArgMax.Rows(x) : x.argmax(-1).cpu().data<long>().ToArray();

    /// <summary>
    /// One token per row of processed logits: the argmax for greedy rows, else the inverse-CDF draw with the row's
    /// uniform number <paramref name="u"/>.
    /// </summary>
    internal Tensor Choose(Tensor x, IReadOnlyList<SamplingRow> rows, double[] u)
    {
        var greedy = rows.Select(r => r.Params.IsGreedy).ToArray();
        if (greedy.All(g => g)) return tensor(ArgMax(x));

        var cdf = x.softmax(-1, ScalarType.Float64).cumsum(-1);
        var target = cdf.narrow(1, x.shape[1] - 1, 1) * tensor(u, ScalarType.Float64, x.device).unsqueeze(1);
        // The first token whose cumulative mass exceeds u * total: zero-probability tokens never qualify, and
        // u <= 1 - 2^-52 keeps the target below the total so the count never reaches the vocabulary size.
        var drawn = (cdf <= target).sum(-1);
        if (!greedy.Any(g => g)) return drawn;
        return where(tensor(greedy, device: x.device), x.argmax(-1), drawn);
    }

    /// <summary>
    /// The uniform number of a row's draw of the token at output position <paramref name="position"/>: keyed by
    /// (seed, sample index, position) for a seeded row, so it is the same whatever the batch and whether or not the
    /// position is verified speculatively; from the engine's own counter for the others.
    /// </summary>
    internal double Uniform(SamplingRow row, int position) => row.Params.Seed is long seed
        ? CounterRandom.Uniform(seed, row.SampleIndex, position)
        : CounterRandom.Uniform(_unseededKey, -1, _unseededDraws++);

    /// <summary>
    /// The output of one token per row: <paramref name="tokens"/>, with the logprobs, top alternatives and support
    /// each row asked for, read from <paramref name="rawLogprobs"/> (null when no row wants raw ones) or from
    /// <paramref name="processedLogits"/>.
    /// </summary>
    internal static SamplerOutput Collect(Tensor tokens, Tensor? rawLogprobs, Tensor processedLogits, IReadOnlyList<SamplingRow> rows)
    {
        var ids = tokens.cpu().data<long>().ToArray();
        var support = SupportLookup.Read(processedLogits, ids, rows);
        bool wantRaw = rawLogprobs is not null;
        bool wantProcessed = rows.Any(r => Wants(r, LogprobsMode.Processed));
        if (!wantRaw && !wantProcessed)
            return new SamplerOutput(ids.Select((id, r) => new ScoredToken((int)id, null, [], support?[r])).ToArray());

        var processed = wantProcessed ? processedLogits.log_softmax(-1) : null;
        var logprobs = rawLogprobs is null ? processed!
            : processed is null ? rawLogprobs
            : where(tensor(rows.Select(r => r.Params.LogprobsMode == LogprobsMode.Raw).ToArray(), device: rawLogprobs.device).unsqueeze(1), rawLogprobs, processed);
        var (chosen, top) = LogprobLookup.Read(logprobs, tokens, rows.Max(r => r.Params.Logprobs ?? 0));
        var output = new ScoredToken[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Params.Logprobs is not int wanted)
            {
                output[r] = new ScoredToken((int)ids[r], null, [], support?[r]);
                continue;
            }
            output[r] = new ScoredToken((int)ids[r], chosen[r], top[r][..Math.Min(wanted, top[r].Length)], support?[r]);
        }
        return new SamplerOutput(output);
    }
}
