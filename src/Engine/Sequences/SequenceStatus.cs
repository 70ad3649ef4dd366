namespace Rollout.Engine.Sequences;

/// <summary>Where a sequence is in its life: queued, holding KV blocks, or done.</summary>
internal enum SequenceStatus
{
    /// <summary>Queued for admission (new, or preempted and waiting to recompute).</summary>
    Waiting,
    /// <summary>Admitted: owns KV blocks and is scheduled each step while budget lasts.</summary>
    Running,
    /// <summary>Done; <see cref="Sequence.FinishReason"/> says why. Owns no blocks.</summary>
    Finished,
}
