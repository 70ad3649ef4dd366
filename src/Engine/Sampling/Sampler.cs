using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// Chooses the next token of every row of a batch from its logits, on the logits' device. Each transform runs
/// once over the whole [rows, vocab] tensor; C# loops only build the small index tensors saying which row gets
/// what. Order, as in vLLM: logit bias, min-tokens masking, repetition penalty, presence and frequency
/// penalties, temperature, then top-k, top-p and min-p from a single sort, then the draw.
/// </summary>
/// <remarks>
/// A row draws with one uniform number from <see cref="CounterRandom"/>, keyed by (seed, sample index, output
/// position), and inverts its CDF with it. Every tensor operation is row-wise, so a seeded row gets the same
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
        // Logit bias and min-tokens masking work in place on flat views, so only they need a private copy;
        // at batch 64 over 32000 tokens the copy was a third of the greedy draw.
        bool writesInPlace = rows.Any(r => r.Params.LogitBias.Count > 0 || r.OutputTokenIds.Count < r.Params.MinTokens);
        var x = logits.to(ScalarType.Float32, copy: writesInPlace).contiguous();
        var rawLogprobs = rows.Any(r => Wants(r, LogprobsMode.Raw)) ? x.log_softmax(-1) : null;

        AddLogitBias(x, rows);
        MaskStopTokensBeforeMinTokens(x, rows);
        x = ApplyRepetitionPenalty(x, rows);
        x = ApplyPresenceAndFrequencyPenalties(x, rows);
        x = ApplyTemperature(x, rows);
        x = KeepTopKTopPMinP(x, rows);
        var tokens = Choose(x, rows);
        return Collect(tokens, rawLogprobs, x, rows);
    }

    static bool Wants(SamplingRow row, LogprobsMode mode) => row.Params.Logprobs is not null && row.Params.LogprobsMode == mode;

    static void AddLogitBias(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        long vocab = x.shape[1];
        var index = new List<long>();
        var bias = new List<float>();
        for (int r = 0; r < rows.Count; r++)
            foreach (var (id, value) in rows[r].Params.LogitBias)
            {
                index.Add(r * vocab + id);
                bias.Add(value);
            }
        if (index.Count == 0) return;
        x.view(-1).index_add_(0, tensor(index, ScalarType.Int64, x.device), tensor(bias, ScalarType.Float32, x.device), 1);
    }

    static void MaskStopTokensBeforeMinTokens(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        long vocab = x.shape[1];
        var index = new List<long>();
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.OutputTokenIds.Count >= row.Params.MinTokens) continue;
            foreach (int id in row.Params.StopTokenIds) index.Add(r * vocab + id);
            if (!row.Params.IgnoreEos)
                foreach (int id in row.EosTokenIds) index.Add(r * vocab + id);
        }
        if (index.Count == 0) return;
        x.view(-1).index_fill_(0, tensor(index, ScalarType.Int64, x.device), float.NegativeInfinity);
    }

    static Tensor ApplyRepetitionPenalty(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        long vocab = x.shape[1];
        var seen = new List<long>();
        var penalty = new float[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            penalty[r] = row.Params.RepetitionPenalty;
            if (penalty[r] == 1f) continue;
            foreach (int id in row.PromptTokenIds) seen.Add(r * vocab + id);
            foreach (int id in row.OutputTokenIds) seen.Add(r * vocab + id);
        }
        if (seen.Count == 0) return x;
        var occurred = zeros(x.shape[0] * vocab, ScalarType.Bool, x.device)
            .index_fill_(0, tensor(seen, ScalarType.Int64, x.device), true)
            .view(x.shape);
        var factor = where(occurred, tensor(penalty, ScalarType.Float32, x.device).unsqueeze(1), ones(1, 1, ScalarType.Float32, x.device));
        return where(x > 0, x / factor, x * factor);
    }

    static Tensor ApplyPresenceAndFrequencyPenalties(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        long vocab = x.shape[1];
        var generated = new List<long>();
        var presence = new float[rows.Count];
        var frequency = new float[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            presence[r] = row.Params.PresencePenalty;
            frequency[r] = row.Params.FrequencyPenalty;
            if (presence[r] == 0f && frequency[r] == 0f) continue;
            foreach (int id in row.OutputTokenIds) generated.Add(r * vocab + id);
        }
        if (generated.Count == 0) return x;
        // Float counts are exact up to 2^24, and adding ones is order-independent, so the sum is deterministic on any device.
        var counts = zeros(x.shape[0] * vocab, ScalarType.Float32, x.device)
            .index_add_(0, tensor(generated, ScalarType.Int64, x.device), ones(generated.Count, ScalarType.Float32, x.device), 1)
            .view(x.shape);
        var frequencyColumn = tensor(frequency, ScalarType.Float32, x.device).unsqueeze(1);
        var presenceColumn = tensor(presence, ScalarType.Float32, x.device).unsqueeze(1);
        return x - frequencyColumn * counts - presenceColumn * (counts > 0).to(ScalarType.Float32);
    }

    static Tensor ApplyTemperature(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        // Greedy rows keep temperature 1: their argmax does not care, and processed logprobs stay finite.
        var temperature = rows.Select(r => r.Params.IsGreedy ? 1f : r.Params.Temperature).ToArray();
        if (temperature.All(t => t == 1f)) return x;
        return x / tensor(temperature, ScalarType.Float32, x.device).unsqueeze(1);
    }

    /// <remarks>
    /// Each filter keeps a prefix of the descending sort, so their intersection is one more prefix, applied as
    /// "logit at least the smallest kept logit". That needs no scatter back from sorted order, and keeps every
    /// token tied with the last one kept, so the result does not depend on how the sort ordered ties.
    /// </remarks>
    static Tensor KeepTopKTopPMinP(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        long vocab = x.shape[1];
        bool topK = rows.Any(r => r.Params.TopK > 0 && r.Params.TopK < vocab);
        bool topP = rows.Any(r => r.Params.TopP < 1f);
        bool minP = rows.Any(r => r.Params.MinP > 0f);
        if (!topK && !topP && !minP) return x;

        var (sorted, _) = x.sort(-1, descending: true);
        Tensor keep;
        if (topK)
        {
            var k = rows.Select(r => r.Params.TopK > 0 && r.Params.TopK < vocab ? r.Params.TopK - 1L : vocab - 1).ToArray();
            var kth = sorted.gather(1, tensor(k, ScalarType.Int64, x.device).unsqueeze(1));
            keep = sorted >= kth;
            // Top-p and min-p then see the distribution renormalised over the top k.
            sorted = sorted.masked_fill(keep.logical_not(), float.NegativeInfinity);
        }
        else
        {
            keep = ones(x.shape, ScalarType.Bool, x.device);
        }
        if (topP || minP)
        {
            var probs = sorted.softmax(-1);
            if (topP)
            {
                // A token stays while the mass ranked above it is below p (ties it splits are closed by the cutoff
                // below); p = +inf for rows without top-p keeps rounding from trimming their tail.
                var p = rows.Select(r => r.Params.TopP < 1f ? r.Params.TopP : float.PositiveInfinity).ToArray();
                var cumulative = probs.cumsum(-1);
                var massAbove = cat([zeros(x.shape[0], 1, ScalarType.Float32, x.device), cumulative.narrow(1, 0, vocab - 1)], 1);
                keep = keep.logical_and(massAbove < tensor(p, ScalarType.Float32, x.device).unsqueeze(1));
            }
            if (minP)
            {
                var m = rows.Select(r => r.Params.MinP).ToArray();
                var threshold = tensor(m, ScalarType.Float32, x.device).unsqueeze(1) * probs.narrow(1, 0, 1);
                keep = keep.logical_and(probs >= threshold);
            }
        }
        var (cutoff, _) = sorted.masked_fill(keep.logical_not(), float.PositiveInfinity).min(1, keepdim: true);
        return x.masked_fill(x < cutoff, float.NegativeInfinity);
    }

    Tensor Choose(Tensor x, IReadOnlyList<SamplingRow> rows)
    {
        var greedy = rows.Select(r => r.Params.IsGreedy).ToArray();
        if (greedy.All(g => g)) return _fastKernels && GreedyArgMax.Supports(x) ? tensor(GreedyArgMax.Rows(x)) : x.argmax(-1);

        var u = rows.Select(r => r.Params.IsGreedy ? 0.0 : NextUniform(r)).ToArray();
        var cdf = x.softmax(-1, ScalarType.Float64).cumsum(-1);
        var target = cdf.narrow(1, x.shape[1] - 1, 1) * tensor(u, ScalarType.Float64, x.device).unsqueeze(1);
        // The first token whose cumulative mass exceeds u * total: zero-probability tokens never qualify, and
        // u <= 1 - 2^-52 keeps the target below the total so the count never reaches the vocabulary size.
        var drawn = (cdf <= target).sum(-1);
        if (!greedy.Any(g => g)) return drawn;
        return where(tensor(greedy, device: x.device), x.argmax(-1), drawn);
    }

    double NextUniform(SamplingRow row) => row.Params.Seed is long seed
        ? CounterRandom.Uniform(seed, row.SampleIndex, row.OutputTokenIds.Count)
        : CounterRandom.Uniform(_unseededKey, -1, _unseededDraws++);

    static SamplerOutput Collect(Tensor tokens, Tensor? rawLogprobs, Tensor processedLogits, IReadOnlyList<SamplingRow> rows)
    {
        var ids = tokens.cpu().data<long>().ToArray();
        bool wantRaw = rawLogprobs is not null;
        bool wantProcessed = rows.Any(r => Wants(r, LogprobsMode.Processed));
        if (!wantRaw && !wantProcessed)
            return new SamplerOutput(ids.Select(id => new ScoredToken((int)id, null, [])).ToArray());

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
                output[r] = new ScoredToken((int)ids[r], null, []);
                continue;
            }
            output[r] = new ScoredToken((int)ids[r], chosen[r], top[r][..Math.Min(wanted, top[r].Length)]);
        }
        return new SamplerOutput(output);
    }
}
