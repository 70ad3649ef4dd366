namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>Where a communicator stands: ready for the next call, still working on the last one, or broken.</summary>
internal enum CollectiveState
{
    Ready,
    InProgress,
    Failed,
}

/// <summary>
/// Makes communicators: the seam between the channel's protocol (bucket plan, deadlines, control
/// messages) and libnccl, so the protocol runs in tests over an in-memory fake.
/// </summary>
internal interface ICollectiveFactory
{
    /// <summary>The NCCL version code ranks must share (major and minor).</summary>
    int Version { get; }

    /// <summary>A fresh rendezvous id: rank 0 makes it, and it travels to the other ranks in the rendezvous message.</summary>
    byte[] NewUniqueId();

    /// <summary>Starts joining the communicator <paramref name="uniqueId"/> names; returns at once, and the communicator turns ready once every rank joined.</summary>
    ICollective Join(byte[] uniqueId, int rank, int worldSize);
}

/// <summary>
/// One rank's communicator, without deadlines (<see cref="NcclCommunicator"/> adds them): every call
/// returns at once, and completion is polled. Disposing it destroys the communicator (unless aborted)
/// and frees its slots.
/// </summary>
internal interface ICollective : IDisposable
{
    /// <summary>Its state (<c>ncclCommGetAsyncError</c>); <paramref name="error"/> says what broke when failed.</summary>
    CollectiveState State(out string error);

    /// <summary>A bucket's device memory of <paramref name="capacity"/> bytes with its own stream, owned by this communicator.</summary>
    ICollectiveSlot CreateSlot(long capacity);

    /// <summary>Enqueues a broadcast of the first <paramref name="length"/> bytes of <paramref name="slot"/> from rank 0 into the same slot on every rank.</summary>
    void Broadcast(ICollectiveSlot slot, long length);

    /// <summary>Ends the communicator now, whatever it is doing (<c>ncclCommAbort</c>): pending work on every rank fails instead of waiting.</summary>
    void Abort();
}

/// <summary>One bucket's device memory and the stream its copies and broadcast run on.</summary>
internal interface ICollectiveSlot
{
    /// <summary>Its size in bytes.</summary>
    long Capacity { get; }

    /// <summary>Whether everything enqueued on it has finished.</summary>
    bool Idle { get; }

    /// <summary>Copies host bytes in at <paramref name="offset"/> (the root packing a bucket); only while idle.</summary>
    void Write(long offset, ReadOnlySpan<byte> bytes);

    /// <summary>Copies bytes from <paramref name="offset"/> out to the host (a receiver unpacking a bucket); only while idle.</summary>
    void Read(long offset, Span<byte> destination);
}
