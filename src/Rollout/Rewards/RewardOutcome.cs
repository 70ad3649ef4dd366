namespace Rollout.Rewards;

/// <summary>What a pipeline made of one trajectory.</summary>
/// <param name="Total">
/// The weighted sum of the components; null where a component failed and the pipeline excludes failed
/// items (<see cref="RewardPipelineOptions.FailedComponentValue"/> null).
/// </param>
/// <param name="Components">The value of each component that gave one, by name; failed components are absent.</param>
/// <param name="Failures">Each component that gave no usable value, and why; empty when all did.</param>
public sealed record RewardOutcome(float? Total, IReadOnlyDictionary<string, float> Components, IReadOnlyList<RewardFailure> Failures);
