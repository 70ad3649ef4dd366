using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Rollout.Server.Http;

/// <summary>
/// Kestrel's buffers in blocks of <see cref="BlockBytes"/> rather than its own 4 KiB ones. Kestrel
/// receives into one block at a time, so the block size is the largest read from a socket: with 4 KiB,
/// a weight update's body cost two system calls, a pipe flush and a hand-off to the reader every 4 KiB.
/// A connection holds blocks only while its bytes are in flight; the pool keeps a bounded number of
/// free ones and leaves the rest to the GC.
/// </summary>
internal sealed class BlockMemoryPool(int retainedBlocks) : MemoryPool<byte>
{
    public const int BlockBytes = 256 << 10;

    readonly ConcurrentQueue<Block> _free = new();
    int _freeCount;
    bool _disposed;

    public override int MaxBufferSize => BlockBytes;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockBytes);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
            return block;
        }
        // Pinned: the sockets pin every buffer they receive into, which costs nothing on the pinned heap.
        return new Block(this, GC.AllocateUninitializedArray<byte>(BlockBytes, pinned: true));
    }

    protected override void Dispose(bool disposing) => _disposed = true;

    void Return(Block block)
    {
        if (_disposed || Interlocked.Increment(ref _freeCount) > retainedBlocks)
        {
            Interlocked.Decrement(ref _freeCount);
            return;
        }
        _free.Enqueue(block);
    }

    sealed class Block(BlockMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory => array;

        public void Dispose() => pool.Return(this);
    }
}

/// <summary>Gives Kestrel a <see cref="BlockMemoryPool"/> for each of its transports.</summary>
internal sealed class BlockMemoryPoolFactory(int retainedBlocks) : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new BlockMemoryPool(retainedBlocks);
}
