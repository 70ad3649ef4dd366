using System.Text.Json.Serialization;

namespace Rollout.Examples.Rlhf;

/// <summary>What <c>--summary-json</c> writes at the end of a run.</summary>
internal sealed record RunSummary
{
    [JsonPropertyName("initial_accuracy")] public required double InitialAccuracy { get; init; }
    [JsonPropertyName("final_accuracy")] public required double FinalAccuracy { get; init; }
    [JsonPropertyName("steps")] public required int Steps { get; init; }
    [JsonPropertyName("warmup_steps")] public required int WarmupSteps { get; init; }
    [JsonPropertyName("wall_seconds")] public required double WallSeconds { get; init; }
    [JsonPropertyName("max_logprob_diff")] public required double MaxLogprobDiff { get; init; }
    [JsonPropertyName("p999_logprob_diff")] public required double P999LogprobDiff { get; init; }
    [JsonPropertyName("channel")] public required string Channel { get; init; }
    [JsonPropertyName("held_out_problems")] public required int HeldOutProblems { get; init; }
    [JsonPropertyName("mean_sync_seconds")] public required double MeanSyncSeconds { get; init; }
    [JsonPropertyName("final_weight_version")] public required long FinalWeightVersion { get; init; }
}
