namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>Makes libnccl communicators on one CUDA device; loads NCCL when made, and says why when it cannot.</summary>
internal sealed unsafe class NcclCollectiveFactory : ICollectiveFactory
{
    readonly int _device;

    /// <exception cref="WeightUpdateException">NCCL cannot be used here; the message says why.</exception>
    public NcclCollectiveFactory(int device)
    {
        Version = NcclLibrary.Version;
        _device = device;
    }

    public int Version { get; }

    public byte[] NewUniqueId()
    {
        NcclNative.UniqueId id;
        NcclNative.Check(NcclNative.GetUniqueId(&id), "ncclGetUniqueId");
        return new ReadOnlySpan<byte>(id.Internal, NcclNative.UniqueIdBytes).ToArray();
    }

    public ICollective Join(byte[] uniqueId, int rank, int worldSize) => NcclCollective.Join(_device, uniqueId, rank, worldSize);
}
