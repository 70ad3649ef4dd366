using System.Text.Json.Serialization;

namespace Rollout.Bench.Peer;

/// <summary>What a peer job measures.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PeerWorkload>))]
public enum PeerWorkload
{
    /// <summary>Prefill every prompt, then decode all sequences together; the decode phase is the figure.</summary>
    [JsonStringEnumMemberName("decode")]
    Decode,
    /// <summary>One long prompt; the prefill phase is the figure.</summary>
    [JsonStringEnumMemberName("prefill")]
    Prefill,
}

/// <summary>
/// One timed job for llama.cpp: every prompt is prefilled, then all sequences decode greedily together,
/// one llama_decode over all of them per step, for <paramref name="NewTokens"/> - 1 steps (the first new
/// token comes from the prefill's logits).
/// </summary>
/// <param name="Workload">Which phase the job is for; a prefill job has exactly one prompt.</param>
/// <param name="Prompts">Token ids of each sequence's prompt.</param>
/// <param name="NewTokens">Tokens to generate per sequence, at least 1.</param>
public sealed record LlamaCppJob(PeerWorkload Workload, int[][] Prompts, int NewTokens)
{
    /// <summary>Whether to return each sequence's logits after its prompt (vocabulary-sized rows: keep batches small).</summary>
    public bool FirstStepLogits { get; init; }
}

/// <summary>What llama.cpp measured and produced for a <see cref="LlamaCppJob"/>.</summary>
/// <param name="PrefillSeconds">Wall time of the prefill phase: every prompt in, the first token of each sequence out.</param>
/// <param name="DecodeSeconds">Wall time of the decode steps.</param>
/// <param name="DecodeSteps">Decode steps run, each producing one token for every sequence.</param>
/// <param name="Tokens">The greedy tokens of each sequence, in prompt order.</param>
/// <param name="FirstStepLogits">Each sequence's logits after its prompt, when the job asked for them.</param>
public sealed record LlamaCppResult(double PrefillSeconds, double DecodeSeconds, int DecodeSteps, int[][] Tokens, float[][]? FirstStepLogits)
{
    /// <summary>Tokens per second summed over the sequences, decode phase only.</summary>
    public double DecodeTokensPerSecond => Tokens.Length * DecodeSteps / DecodeSeconds;
}
