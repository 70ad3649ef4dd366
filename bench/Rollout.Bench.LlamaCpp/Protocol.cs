using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rollout.Bench.LlamaCpp;

/// <summary>The first request: which model to load and how the context is laid out.</summary>
/// <param name="ContextSize">KV slots in all; each sequence gets ContextSize / MaxSequences of them.</param>
sealed record LoadRequest(string Model, int Threads, int ContextSize, int MaxSequences);

/// <summary>
/// One timed job. Every prompt is prefilled, then all sequences decode greedily together for
/// NewTokens - 1 steps (the first new token comes from the prefill's logits).
/// </summary>
/// <param name="Workload"><c>decode</c> or <c>prefill</c> (one prompt; the prefill time is the figure).</param>
/// <param name="FirstStepLogits">Whether to return each sequence's logits after its prompt.</param>
sealed record JobRequest(string Workload, int[][] Prompts, int NewTokens, bool FirstStepLogits = false);

sealed record LoadAnswer(bool Ok);

sealed record JobAnswer(double PrefillSeconds, double DecodeSeconds, int DecodeSteps, int[][] Tokens, float[][]? FirstStepLogits);

sealed record ErrorAnswer(string Error);

static class Protocol
{
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
