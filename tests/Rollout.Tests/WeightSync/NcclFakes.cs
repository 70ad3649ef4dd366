using System.Collections.Concurrent;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Tests.WeightSync;

/// <summary>
/// An in-memory stand-in for libnccl: ranks of one process join a group by its unique id, rank 0's
/// broadcasts are copied to the others' slots once rank 0's completes, and faults are injected by broadcast
/// number: one that never arrives anywhere, one after which every communicator reports an error, a byte
/// flipped on the way. It records which ranks joined, aborted and which were disposed.
/// </summary>
internal sealed class FakeNetwork : ICollectiveFactory
{
    readonly ConcurrentDictionary<string, FakeGroup> _groups = new();

    public int Version { get; init; } = 22203;

    /// <summary>The broadcast (0-based) that never finishes on any rank, as when a peer dies mid-transfer.</summary>
    public int? HangAt { get; init; }

    /// <summary>The broadcast after which every communicator of the group reports an error.</summary>
    public int? FailAt { get; init; }

    /// <summary>A byte of one broadcast flipped on its way to the receivers.</summary>
    public (int Broadcast, int Offset)? Flip { get; init; }

    public ConcurrentBag<int> Joined { get; } = [];

    public ConcurrentBag<int> Aborted { get; } = [];

    public ConcurrentBag<int> Disposed { get; } = [];

    public byte[] NewUniqueId() => Guid.NewGuid().ToByteArray().Concat(new byte[112]).ToArray();

    public ICollective Join(byte[] uniqueId, int rank, int worldSize)
    {
        var group = _groups.GetOrAdd(Convert.ToHexString(uniqueId), _ => new FakeGroup(worldSize));
        Interlocked.Increment(ref group.Joined);
        Joined.Add(rank);
        return new FakeCollective(this, group, rank);
    }

    internal sealed class FakeGroup(int worldSize)
    {
        public readonly int WorldSize = worldSize;
        public readonly ConcurrentDictionary<int, byte[]> Payloads = new();
        public int Joined;
        public volatile bool Failed;
    }

    sealed class FakeCollective(FakeNetwork network, FakeGroup group, int rank) : ICollective
    {
        int _broadcasts;
        volatile bool _aborted;

        public CollectiveState State(out string error)
        {
            error = _aborted ? "aborted" : group.Failed ? "a peer failed (fake remote error)" : "";
            if (error.Length > 0) return CollectiveState.Failed;
            return Volatile.Read(ref group.Joined) < group.WorldSize ? CollectiveState.InProgress : CollectiveState.Ready;
        }

        public ICollectiveSlot CreateSlot(long capacity) => new FakeSlot(this, capacity);

        public void Broadcast(ICollectiveSlot slot, long length)
        {
            var fake = (FakeSlot)slot;
            int index = _broadcasts++;
            if (index == network.FailAt) group.Failed = true;
            fake.Pending = (index, length);
        }

        public void Abort()
        {
            _aborted = true;
            network.Aborted.Add(rank);
        }

        public void Dispose() => network.Disposed.Add(rank);

        public bool Arrived(FakeSlot slot, int index, long length)
        {
            if (index == network.HangAt) return false;
            if (rank == 0)
            {
                // Rank 0's bytes are taken when its broadcast completes, the latest NCCL may read them: a slot refilled too early shows.
                group.Payloads[index] = slot.Data[..(int)length];
                return true;
            }
            if (!group.Payloads.TryGetValue(index, out byte[]? payload)) return false;
            payload.AsSpan(0, (int)length).CopyTo(slot.Data);
            if (network.Flip is var (at, offset) && at == index) slot.Data[offset] ^= 0x01;
            return true;
        }
    }

    sealed class FakeSlot(FakeCollective owner, long capacity) : ICollectiveSlot
    {
        public readonly byte[] Data = new byte[capacity];

        public (int Index, long Length)? Pending;

        public long Capacity => capacity;

        public bool Idle
        {
            get
            {
                if (Pending is not var (index, length)) return true;
                if (!owner.Arrived(this, index, length)) return false;
                Pending = null;
                return true;
            }
        }

        public void Write(long offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(Data.AsSpan((int)offset));

        public void Read(long offset, Span<byte> destination) => Data.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }
}
