namespace Rollout.Rewards;

/// <summary>How a <see cref="RewardPipeline"/> runs its components and treats their failures.</summary>
public sealed record RewardPipelineOptions
{
    /// <summary>How long one component's call over a batch may take before its items are recorded as timed out.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The value a failed component counts as in the total (0, say, or a penalty), the failure still
    /// recorded; null leaves an item with any failed component without a total, out of its group's
    /// statistics and advantages.
    /// </summary>
    public float? FailedComponentValue { get; init; }

    /// <summary>The baseline that turns each group's totals into advantages.</summary>
    public AdvantageMethod AdvantageMethod { get; init; } = AdvantageMethod.Grpo;

    /// <summary>A total at or above it counts as solved in <see cref="GroupStats.FractionSolved"/>.</summary>
    public float SolvedThreshold { get; init; } = 1f;
}
