namespace Rollout.WeightSync;

/// <summary>What a weight update does with the requests running when it applies (named as the server's pause modes).</summary>
public enum InFlightPolicy
{
    /// <summary>Stop admitting, let running requests finish under the old weights, apply, resume.</summary>
    Wait,

    /// <summary>End running requests with their partial output (finish reason <c>abort</c>), apply, resume.</summary>
    Abort,

    /// <summary>Apply between two steps; running sequences go on with the new weights over the KV the old ones computed.</summary>
    Keep,

    /// <summary>Apply between two steps; running sequences keep their tokens, and their KV is recomputed under the new weights before they go on.</summary>
    Recompute,
}
