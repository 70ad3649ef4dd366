namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>How the trainer side of the NCCL channel moves an update.</summary>
public sealed record NcclOptions
{
    /// <summary>Bytes per broadcast (each rank holds two buckets of device memory while an update runs).</summary>
    public long BucketBytes { get; init; } = 1L << 30;

    /// <summary>The deadline of each collective on every rank: joining the communicator, and each bucket's broadcast from its enqueueing.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The trainer's CUDA device (rank 0).</summary>
    public int Device { get; init; }
}
