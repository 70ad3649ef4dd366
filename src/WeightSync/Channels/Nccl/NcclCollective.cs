namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// One rank's libnccl communicator (non-blocking, so that joining it can be polled and aborted) and the
/// CUDA slots it broadcasts through. It waits for nothing itself: <see cref="NcclCommunicator"/> polls it
/// against the deadlines.
/// </summary>
internal sealed unsafe class NcclCollective : ICollective
{
    readonly int _device;
    readonly nint _comm;
    readonly List<CudaSlot> _slots = [];
    bool _aborted;
    bool _disposed;

    NcclCollective(int device, nint comm)
    {
        _device = device;
        _comm = comm;
    }

    /// <summary>Starts joining as <paramref name="rank"/> of <paramref name="worldSize"/> on CUDA device <paramref name="device"/>.</summary>
    public static NcclCollective Join(int device, byte[] uniqueId, int rank, int worldSize)
    {
        CudaSlot.Use(device);
        NcclNative.UniqueId id = default;
        uniqueId.CopyTo(new Span<byte>(id.Internal, NcclNative.UniqueIdBytes));
        var config = NcclNative.Config.NonBlocking();
        nint comm = 0;
        int result = NcclNative.CommInitRankConfig(&comm, worldSize, id, rank, &config);
        if (result is not (NcclNative.Success or NcclNative.InProgress))
        {
            if (comm != 0) NcclNative.CommAbort(comm);
            throw new WeightUpdateException($"ncclCommInitRankConfig (rank {rank} of {worldSize}) failed: {NcclNative.Describe(result)}");
        }
        return new NcclCollective(device, comm);
    }

    public CollectiveState State(out string error)
    {
        int state = 0;
        int result = NcclNative.CommGetAsyncError(_comm, &state);
        error = "";
        if (result != NcclNative.Success)
        {
            error = $"ncclCommGetAsyncError: {NcclNative.Describe(result)}";
            return CollectiveState.Failed;
        }
        if (state == NcclNative.Success) return CollectiveState.Ready;
        if (state == NcclNative.InProgress) return CollectiveState.InProgress;
        error = NcclNative.Describe(state);
        return CollectiveState.Failed;
    }

    public ICollectiveSlot CreateSlot(long capacity)
    {
        var slot = new CudaSlot(_device, capacity);
        _slots.Add(slot);
        return slot;
    }

    public void Broadcast(ICollectiveSlot slot, long length)
    {
        var cuda = _slots.Find(s => ReferenceEquals(s, slot)) ?? throw new ArgumentException("the slot belongs to another communicator", nameof(slot));
        CudaSlot.Use(_device);
        NcclNative.Check(NcclNative.Broadcast(cuda.Pointer, cuda.Pointer, (nuint)length, NcclNative.Uint8, 0, _comm, cuda.Stream), "ncclBroadcast");
    }

    public void Abort()
    {
        if (_aborted) return;
        _aborted = true;
        NcclNative.CommAbort(_comm);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Destroy waits for the communicator's pending work; NcclCommunicator aborts first whenever some is left.
        if (!_aborted) NcclNative.CommDestroy(_comm);
        foreach (var slot in _slots) slot.Dispose();
    }
}
