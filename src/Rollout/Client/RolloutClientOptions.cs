namespace Rollout.Client;

/// <summary>How a <see cref="RolloutClient"/> treats trajectories across weight updates (asynchronous RL).</summary>
public record RolloutClientOptions
{
    /// <summary>
    /// Bounded staleness K: a trajectory whose oldest token is more than K weight versions behind the newest
    /// version this client has seen on any token is stale, and <see cref="Staleness"/> says what becomes of
    /// it. Checked when its group has come back. Null (the default): no bound.
    /// </summary>
    public long? MaxStaleness { get; init; }

    /// <summary>What becomes of a stale trajectory: dropped (the default) or recomputed.</summary>
    public StalenessPolicy Staleness { get; init; } = StalenessPolicy.Drop;

    internal void Validate()
    {
        if (MaxStaleness < 0) throw new ArgumentOutOfRangeException(nameof(MaxStaleness), MaxStaleness, "the staleness bound must be >= 0 versions");
        if (!Enum.IsDefined(Staleness)) throw new ArgumentOutOfRangeException(nameof(Staleness), Staleness, "the staleness policy must be Drop or Recompute");
    }
}
