using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>Scores the tokens of a prompt under the model's raw distribution (<see cref="SamplingParams.PromptLogprobs"/>).</summary>
internal static class PromptLogprobs
{
    /// <summary>
    /// The logprob of each actual next token and the <paramref name="topK"/> most likely alternatives, best first.
    /// </summary>
    /// <param name="logits">[P, V] logits of prompt positions 0..P-1, on any device.</param>
    /// <param name="nextTokenIds">The P tokens that actually follow those positions (prompt tokens 1..P).</param>
    /// <param name="topK">Alternatives per position, 0 to <see cref="SamplingParams.MaxLogprobs"/>.</param>
    public static IReadOnlyList<ScoredToken> Compute(Tensor logits, IReadOnlyList<int> nextTokenIds, int topK)
    {
        if (logits.dim() != 2 || logits.shape[0] != nextTokenIds.Count)
            throw new ArgumentException($"logits must be [{nextTokenIds.Count}, vocab], got [{string.Join(", ", logits.shape)}]", nameof(logits));
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        if (nextTokenIds.Count == 0) return [];

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logprobs = logits.to(ScalarType.Float32).log_softmax(-1);
        var next = tensor(nextTokenIds.Select(id => (long)id).ToArray(), ScalarType.Int64, logits.device);
        var (actual, top) = LogprobLookup.Read(logprobs, next, topK);
        var output = new ScoredToken[nextTokenIds.Count];
        for (int i = 0; i < output.Length; i++) output[i] = new ScoredToken(nextTokenIds[i], actual[i], top[i]);
        return output;
    }
}
