using Rollout.Models.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Generation;

/// <summary>
/// The oracle later work is checked against: one sequence at a time, in the plainest possible way.
/// With <c>useKvCache: false</c> every token recomputes the whole sequence; with a cache it feeds the
/// prompt once and then one token per step through a <see cref="ContiguousKvCache"/>. Both must agree.
/// </summary>
public sealed class ReferenceGenerator
{
    readonly CausalLanguageModel _model;
    readonly bool _useKvCache;

    /// <summary>A generator over <paramref name="model"/>.</summary>
    public ReferenceGenerator(CausalLanguageModel model, bool useKvCache)
    {
        _model = model;
        _useKvCache = useKvCache;
    }

    /// <summary>
    /// Generates after <paramref name="prompt"/>, yielding each token as it is chosen; stops at a stop
    /// id (yielded) or after <see cref="ReferenceSampling.MaxTokens"/>.
    /// </summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, ReferenceSampling sampling)
    {
        sampling.Validate();
        if (prompt.Count == 0) throw new ArgumentException("the prompt needs at least one token", nameof(prompt));
        var random = new Random(sampling.Seed);
        var tokens = prompt.ToList();
        using var cache = _useKvCache
            ? new ContiguousKvCache(_model.Config, prompt.Count + sampling.MaxTokens, _model.Options.DType, _model.Options.Device)
            : null;
        int fed = 0;
        for (int step = 0; step < sampling.MaxTokens; step++)
        {
            float[] logits = cache is null ? LastLogits(tokens) : CachedLastLogits(cache, tokens, fed);
            fed = tokens.Count;
            int next = Choose(logits, sampling.Temperature, random);
            tokens.Add(next);
            yield return next;
            if (sampling.StopTokenIds.Contains(next)) yield break;
        }
    }

    /// <summary>Logits [tokens, vocab] of every position of <paramref name="tokens"/>, recomputed from scratch.</summary>
    public float[,] AllLogits(IReadOnlyList<int> tokens)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = _model.ComputeLogits(Forward(tokens, 0, new UncachedAttention([tokens.Count])));
        return ToMatrix(logits);
    }

    /// <summary>
    /// Logits of every position computed incrementally through a KV cache, feeding the tokens in
    /// chunks of the given sizes (e.g. a prompt, then one token at a time).
    /// </summary>
    public float[,] AllLogitsCached(IReadOnlyList<int> tokens, IReadOnlyList<int> chunks)
    {
        if (chunks.Sum() != tokens.Count || chunks.Any(c => c <= 0))
            throw new ArgumentException("chunk sizes must be positive and add up to the token count", nameof(chunks));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = new ContiguousKvCache(_model.Config, tokens.Count, _model.Options.DType, _model.Options.Device);
        var parts = new List<Tensor>();
        int start = 0;
        foreach (int n in chunks)
        {
            var hidden = Forward(tokens.Skip(start).Take(n).ToArray(), start, new ContiguousCacheAttention([(cache, n)]));
            parts.Add(_model.ComputeLogits(hidden));
            start += n;
        }
        return ToMatrix(cat(parts, 0));
    }

    float[] LastLogits(IReadOnlyList<int> tokens) => LastLogits(tokens, 0, new UncachedAttention([tokens.Count]));

    float[] CachedLastLogits(ContiguousKvCache cache, List<int> tokens, int fed)
    {
        int n = tokens.Count - fed;
        return LastLogits(tokens.GetRange(fed, n), fed, new ContiguousCacheAttention([(cache, n)]));
    }

    /// <summary>Logits of the last of <paramref name="ids"/>, fed from <paramref name="firstPosition"/> on.</summary>
    float[] LastLogits(IReadOnlyList<int> ids, int firstPosition, IAttentionContext attention)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hidden = Forward(ids, firstPosition, attention);
        return _model.ComputeLogits(hidden, tensor(new long[] { ids.Count - 1 }, device: _model.Options.Device)).cpu().data<float>().ToArray();
    }

    Tensor Forward(IReadOnlyList<int> ids, int firstPosition, IAttentionContext attention)
    {
        var device = _model.Options.Device;
        var input = tensor(ids.Select(i => (long)i).ToArray(), device: device);
        var positions = arange(firstPosition, firstPosition + ids.Count, ScalarType.Int64, device);
        return _model.Forward(new ForwardBatch(input, positions, attention));
    }

    static int Choose(float[] logits, double temperature, Random random)
    {
        if (temperature == 0)
        {
            int best = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }
        double max = logits.Max();
        var weights = logits.Select(l => Math.Exp((l - max) / temperature)).ToArray();
        double u = random.NextDouble() * weights.Sum();
        for (int i = 0; i < weights.Length; i++)
        {
            u -= weights[i];
            if (u < 0) return i;
        }
        return Array.FindLastIndex(weights, w => w > 0);
    }

    static float[,] ToMatrix(Tensor logits)
    {
        var flat = logits.cpu().data<float>().ToArray();
        int rows = (int)logits.shape[0], cols = (int)logits.shape[1];
        var result = new float[rows, cols];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }
}
