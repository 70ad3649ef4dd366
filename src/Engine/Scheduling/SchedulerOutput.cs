using Rollout.Engine.Sequences;

namespace Rollout.Engine.Scheduling;

/// <summary>What one step computes, and which sequences lost their KV to make room for it.</summary>
internal sealed class SchedulerOutput
{
    /// <summary>Running sequences first (oldest first), then the newly admitted ones.</summary>
    public List<ScheduledSequence> Scheduled { get; } = [];

    /// <summary>Sequences sent back to waiting this step; their KV is gone and is recomputed later.</summary>
    public List<Sequence> Preempted { get; } = [];

    public int TotalTokens { get; set; }

    public bool IsEmpty => Scheduled.Count == 0;
}
