using Rollout.Engine.Sampling;

namespace Rollout.Engine.Tests.Sampling;

/// <summary>
/// The sampler's transforms written out for one row in plain loops. The logit transforms use the same float
/// operations in the same order as the sampler, so their results are bit-identical; the filters and
/// distributions are computed in double, straight from their definitions.
/// </summary>
static class SamplerReference
{
    public static float[] TransformLogits(float[] logits, SamplingRow row)
    {
        var p = row.Params;
        var x = (float[])logits.Clone();
        foreach (var (id, bias) in p.LogitBias) x[id] += bias;
        if (row.OutputTokenIds.Count < p.MinTokens)
        {
            foreach (int id in p.StopTokenIds) x[id] = float.NegativeInfinity;
            if (!p.IgnoreEos)
                foreach (int id in row.EosTokenIds) x[id] = float.NegativeInfinity;
        }
        foreach (int id in row.PromptTokenIds.Concat(row.OutputTokenIds).Distinct())
            x[id] = x[id] > 0 ? x[id] / p.RepetitionPenalty : x[id] * p.RepetitionPenalty;
        var counts = new int[x.Length];
        foreach (int id in row.OutputTokenIds) counts[id]++;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = x[i] - p.FrequencyPenalty * counts[i];
            x[i] = x[i] - p.PresencePenalty * (counts[i] > 0 ? 1f : 0f);
        }
        if (!p.IsGreedy)
            for (int i = 0; i < x.Length; i++) x[i] /= p.Temperature;
        return x;
    }

    /// <summary>Which tokens survive top-k, then top-p on the top-k distribution, then min-p; ties at each boundary survive together.</summary>
    public static bool[] Keep(float[] x, SamplingParams p)
    {
        int vocab = x.Length;
        var keep = Enumerable.Repeat(true, vocab).ToArray();
        var descending = Enumerable.Range(0, vocab).OrderByDescending(i => x[i]).ToArray();
        if (p.TopK > 0 && p.TopK < vocab)
        {
            float kth = x[descending[p.TopK - 1]];
            for (int i = 0; i < vocab; i++) keep[i] = x[i] >= kth;
        }
        var probs = Softmax(x, keep);
        if (p.TopP < 1)
        {
            double massAbove = 0, smallestKept = double.PositiveInfinity;
            foreach (int i in descending)
            {
                if (massAbove < p.TopP) smallestKept = Math.Min(smallestKept, probs[i]);
                massAbove += probs[i];
            }
            for (int i = 0; i < vocab; i++) keep[i] &= probs[i] >= smallestKept;
        }
        if (p.MinP > 0)
        {
            double max = probs.Max();
            for (int i = 0; i < vocab; i++) keep[i] &= probs[i] >= p.MinP * max;
        }
        return keep;
    }

    /// <summary>log_softmax over the kept tokens; -infinity elsewhere.</summary>
    public static double[] LogSoftmax(float[] x, bool[]? keep = null)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < x.Length; i++)
            if (keep?[i] ?? true) max = Math.Max(max, x[i]);
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
            if (keep?[i] ?? true) sum += Math.Exp(x[i] - max);
        double log = max + Math.Log(sum);
        return x.Select((v, i) => keep?[i] ?? true ? v - log : double.NegativeInfinity).ToArray();
    }

    public static double[] Softmax(float[] x, bool[]? keep = null) => LogSoftmax(x, keep).Select(Math.Exp).ToArray();

    /// <summary>The processed distribution of a row: its logits transformed and filtered, as log-probabilities.</summary>
    public static double[] ProcessedLogprobs(float[] logits, SamplingRow row)
    {
        var x = TransformLogits(logits, row);
        return LogSoftmax(x, Keep(x, row.Params));
    }

    /// <summary>Index of the largest value, the lowest on ties.</summary>
    public static int Argmax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
            if (x[i] > x[best]) best = i;
        return best;
    }
}
