namespace Rollout.Engine.Scheduling;

/// <summary>Limits on what one engine step may compute.</summary>
internal sealed record SchedulerOptions
{
    /// <summary>Most sequences running at once (each decode is one row of the batch).</summary>
    public int MaxNumSequences { get; init; } = 256;

    /// <summary>Token budget of one step: prefill chunks and decodes together.</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>
    /// When on, a prompt longer than what is left of the step's budget is split across steps. When
    /// off, a new prompt is admitted only in one piece, so no prompt may exceed the whole budget.
    /// </summary>
    public bool ChunkedPrefill { get; init; } = true;

    /// <summary>
    /// With chunked prefill, the most tokens one sequence may prefill in a step, so that one long
    /// prompt does not take the whole budget from shorter ones. Null: no cap.
    /// </summary>
    public int? LongPrefillThreshold { get; init; }

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxNumSequences);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxNumBatchedTokens);
        if (LongPrefillThreshold is int threshold) ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threshold, nameof(LongPrefillThreshold));
    }
}
