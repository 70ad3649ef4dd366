namespace Rollout.Client;

/// <summary>The n completions of one prompt: the unit group-relative methods (GRPO, RLOO) compare within.</summary>
public sealed record TrajectoryGroup
{
    /// <summary>Which prompt of the call this group answers (of all the prompts given so far, for <see cref="PartialRollouts"/>).</summary>
    public required int PromptIndex { get; init; }

    /// <summary>The prompt's token ids.</summary>
    public required IReadOnlyList<int> PromptTokenIds { get; init; }

    /// <summary>The completions, by index: fewer than n where the client's staleness rule dropped some (<see cref="StalenessPolicy.Drop"/>).</summary>
    public required IReadOnlyList<Trajectory> Trajectories { get; init; }
}
