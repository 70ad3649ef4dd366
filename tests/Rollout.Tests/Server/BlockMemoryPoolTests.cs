using Rollout.Server.Http;

namespace Rollout.Tests.Server;

/// <summary>Kestrel's block pool: whole blocks, reused, and no more kept free than it was told.</summary>
public class BlockMemoryPoolTests
{
    [Fact]
    public void Every_block_is_whole_and_a_returned_one_is_rented_again()
    {
        using var pool = new BlockMemoryPool(retainedBlocks: 2);
        var first = pool.Rent(1);
        Assert.Equal(BlockMemoryPool.BlockBytes, first.Memory.Length);
        Assert.Equal(BlockMemoryPool.BlockBytes, pool.Rent().Memory.Length);
        var memory = first.Memory;
        first.Dispose();

        Assert.True(pool.Rent(BlockMemoryPool.BlockBytes).Memory.Span == memory.Span);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(BlockMemoryPool.BlockBytes + 1));
    }

    [Fact]
    public void Blocks_returned_beyond_the_retained_count_are_let_go()
    {
        using var pool = new BlockMemoryPool(retainedBlocks: 2);
        var rented = Enumerable.Range(0, 4).Select(_ => pool.Rent()).ToArray();
        foreach (var block in rented) block.Dispose();

        var again = Enumerable.Range(0, 4).Select(_ => pool.Rent().Memory).ToArray();
        Assert.Equal(2, again.Count(m => rented.Any(r => r.Memory.Span == m.Span)));
    }
}
