using MessagePack;
using Rollout.WeightSync.Channels.Http;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// What the trainer sends each engine over the control channel (<c>POST /rl/weights/nccl</c>, a
/// MessagePack map) to start an update: the communicator to join and as which rank, how the bytes are
/// cut into buckets, the deadline of every collective, and the manifest the bytes must match.
/// </summary>
[MessagePackObject]
public sealed class NcclRendezvous
{
    /// <summary>The content type of the message.</summary>
    public const string ContentType = "application/x-rollout-nccl";

    /// <summary>The <c>ncclUniqueId</c> rank 0 made: 128 bytes.</summary>
    [Key("unique_id")] public required byte[] UniqueId { get; init; }

    /// <summary>This engine's rank, 1 to <see cref="WorldSize"/> - 1 (the trainer is rank 0).</summary>
    [Key("rank")] public int Rank { get; init; }

    /// <summary>The trainer and every engine of the update.</summary>
    [Key("world_size")] public int WorldSize { get; init; }

    /// <summary>The trainer's <c>NCCL_VERSION_CODE</c>; an engine whose major or minor version differs refuses the update.</summary>
    [Key("nccl_version")] public int NcclVersion { get; init; }

    /// <summary>The bucket size the bytes are cut into (docs/weight-sync.md).</summary>
    [Key("bucket_bytes")] public long BucketBytes { get; init; }

    /// <summary>The deadline of each collective: joining, and each bucket's broadcast.</summary>
    [Key("timeout_seconds")] public double TimeoutSeconds { get; init; }

    /// <summary>The update's manifest.</summary>
    [Key("manifest")] public required ManifestWire Manifest { get; init; }

    /// <summary>Throws unless the message is one this engine can take part in; returns its manifest and deadline.</summary>
    internal (UpdateManifest Manifest, TimeSpan Timeout) Check(int ncclVersion)
    {
        if (UniqueId is not { Length: NcclNative.UniqueIdBytes })
            throw new WeightUpdateException($"unique_id must be {NcclNative.UniqueIdBytes} bytes, not {UniqueId?.Length ?? 0}");
        if (WorldSize < 2 || Rank < 1 || Rank >= WorldSize)
            throw new WeightUpdateException($"rank {Rank} of world_size {WorldSize}: an engine is rank 1 to world_size - 1 (the trainer is rank 0)");
        if (BucketBytes < 1 || BucketBytes > BucketPlan.MaxBucketBytes)
            throw new WeightUpdateException($"bucket_bytes must be 1 to {BucketPlan.MaxBucketBytes}, not {BucketBytes}");
        if (!(TimeoutSeconds > 0 && TimeoutSeconds <= TimeSpan.MaxValue.TotalSeconds / 2))
            throw new WeightUpdateException($"timeout_seconds must be positive, not {TimeoutSeconds}");
        if (NcclVersion / 100 != ncclVersion / 100)
            throw new WeightUpdateException($"the trainer runs NCCL {NcclVersion}, this engine {ncclVersion}: both need the same major and minor version");
        return ((Manifest ?? throw new WeightUpdateException("the rendezvous carries no manifest")).ToManifest(), TimeSpan.FromSeconds(TimeoutSeconds));
    }
}
