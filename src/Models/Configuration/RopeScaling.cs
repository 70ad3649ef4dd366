namespace Rollout.Models.Configuration;

/// <summary>
/// How rotary position frequencies are rescaled for long contexts (<c>rope_scaling</c> in config.json,
/// <c>rope_parameters</c> in configs written by transformers 5).
/// </summary>
/// <param name="Type"><c>linear</c> or <c>llama3</c>.</param>
/// <param name="Factor">Context extension factor.</param>
/// <param name="LowFreqFactor">llama3 only.</param>
/// <param name="HighFreqFactor">llama3 only.</param>
/// <param name="OriginalMaxPositionEmbeddings">llama3 only: the context length the model was trained at.</param>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192)
{
    /// <summary>The scaling types this build implements.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = ["linear", "llama3"];
}
