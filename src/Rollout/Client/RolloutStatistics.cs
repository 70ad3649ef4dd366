namespace Rollout.Client;

/// <summary>What a client's staleness rule has done since it was made.</summary>
/// <param name="NewestVersion">The newest weight version seen on any token.</param>
/// <param name="StaleDropped">Trajectories left out of their group as stale.</param>
/// <param name="StaleRecomputed">Trajectories generated again because they were stale.</param>
public sealed record RolloutStatistics(long NewestVersion, long StaleDropped, long StaleRecomputed);
