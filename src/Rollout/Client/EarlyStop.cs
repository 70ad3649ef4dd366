namespace Rollout.Client;

/// <summary>
/// When a step of <see cref="PartialRollouts"/> stops generating before every group has finished: after a
/// deadline, or once a fraction of its groups have finished, whichever comes first. The completions still
/// running then are aborted and kept, with their tokens, to be continued in the next step.
/// </summary>
public sealed record EarlyStop
{
    /// <summary>How long after the step starts its stragglers are aborted; null: no deadline.</summary>
    public TimeSpan? Deadline { get; init; }

    /// <summary>The fraction of the step's groups, in (0, 1], whose finishing aborts the rest; null: no such bound.</summary>
    public double? FinishedFraction { get; init; }

    internal void Validate()
    {
        if (Deadline < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Deadline), Deadline, "the deadline must not be negative");
        if (FinishedFraction is { } f && !(f > 0 && f <= 1))
            throw new ArgumentOutOfRangeException(nameof(FinishedFraction), f, "the finished fraction must be in (0, 1]");
    }
}
