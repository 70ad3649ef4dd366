namespace Rollout.WeightSync;

/// <summary>How a push installs its tensors: which version (null: each engine's current + 1), full or partial, and the in-flight policy.</summary>
public sealed record PushOptions
{
    /// <summary>The version to install; null lets each engine take its current version + 1.</summary>
    public long? Version { get; init; }

    /// <summary>Whether the tensors are a subset of the model's (else every tensor must be there).</summary>
    public bool Partial { get; init; }

    /// <summary>What happens to requests in flight when the update applies.</summary>
    public InFlightPolicy InFlight { get; init; } = InFlightPolicy.Wait;
}
