using Rollout.Client;

namespace Rollout.Rewards;

/// <summary>A group's rewards, their statistics and the advantages a loss applies.</summary>
/// <param name="Group">The group scored.</param>
/// <param name="Outcomes">One outcome per trajectory, in the group's order.</param>
/// <param name="Stats">Statistics of the trajectories that have a total; null when none has.</param>
/// <param name="Advantages">
/// One advantage per trajectory, in the group's order, computed over the trajectories that have a
/// total; a trajectory without one gets 0, so it adds no policy gradient.
/// </param>
public sealed record GroupRewards(TrajectoryGroup Group, IReadOnlyList<RewardOutcome> Outcomes, GroupStats? Stats, IReadOnlyList<float> Advantages);
