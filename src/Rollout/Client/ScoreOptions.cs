using Rollout.Engine.Sampling;

namespace Rollout.Client;

/// <summary>Which model scores: the policy the engine serves, or the reference model loaded beside it.</summary>
public enum ScoreModel
{
    /// <summary>The served policy, at its current weight version.</summary>
    Policy,

    /// <summary>The frozen reference model (for a KL penalty), loaded beside the policy.</summary>
    Reference,
}

/// <summary>How <see cref="IRolloutClient.ScoreAsync"/> scores.</summary>
public sealed record ScoreOptions
{
    /// <summary>Which model scores.</summary>
    public ScoreModel Model { get; init; } = ScoreModel.Policy;

    /// <summary>Raw (log-softmax of the logits) or processed (after <see cref="Sampling"/>'s transforms).</summary>
    public LogprobsMode Mode { get; init; } = LogprobsMode.Raw;

    /// <summary>The transforms a processed score applies (temperature, filters, penalties, bias); null: none.</summary>
    public SamplingParams? Sampling { get; init; }
}
