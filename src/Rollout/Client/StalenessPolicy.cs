namespace Rollout.Client;

/// <summary>What a client does with a trajectory older than <see cref="RolloutClientOptions.MaxStaleness"/> allows.</summary>
public enum StalenessPolicy
{
    /// <summary>Leaves it out of its group (the group then holds fewer than n).</summary>
    Drop,

    /// <summary>Generates it again from its prompt under the current weights, on the engine that has its group.</summary>
    Recompute,
}
