using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// The transforms a row's <see cref="SamplingParams"/> make to its logits before the draw, shared by the
/// <see cref="Sampler"/> and by scoring in processed mode, so both see the same distribution. Each transform
/// runs once over the whole [rows, vocab] tensor; C# loops only build the small index tensors saying which
/// row gets what. Order, as in vLLM: logit bias, min-tokens masking, repetition penalty, presence and
/// frequency penalties, temperature, then top-k, top-p and min-p from a single sort.
/// </summary>
internal static class LogitProcessor
{
    /// <summary>
    /// The processed logits of <paramref name="logits"/> ([rows, vocab] float32, contiguous), one row per
    /// <paramref name="rows"/> entry; filtered-out tokens are -infinity. <paramref name="logits"/> is left as it was.
    /// </summary>
    public static Tensor Apply(Tensor logits, IReadOnlyList<SamplingRow> rows)
    {
        // Logit bias and min-tokens masking work in place on flat views, so only they need a private copy:
        // copying every batch's logits would cost a greedy draw more than its argmax.
        bool writesInPlace = rows.Any(r => r.Params.LogitBias.Count > 0 || r.OutputTokenIds.Count < r.Params.MinTokens);
        var x = writesInPlace ? logits.clone() : logits;
        AddLogitBias(x, rows);
        MaskStopTokensBeforeMinTokens(x, rows);
        x = ApplyRepetitionPenalty(x, rows);
        x = ApplyPresenceAndFrequencyPenalties(x, rows);
        x = ApplyTemperature(x, rows);
        return KeepTopKTopPMinP(x, rows);
    }

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
}
