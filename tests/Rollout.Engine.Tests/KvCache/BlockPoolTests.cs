using Rollout.Engine.KvCache;

namespace Rollout.Engine.Tests.KvCache;

public class BlockPoolTests
{
    static BlockHash Key(int key) => new((UInt128)(key + 1));

    [Fact]
    public void Allocate_takes_blocks_in_LRU_order_and_evicts_their_hash()
    {
        var pool = new BlockPool(3);
        var a = pool.Allocate();
        var b = pool.Allocate();
        pool.Cache(a, Key(0));
        pool.Free(b);
        pool.Free(a);

        Assert.Equal([2, 1, 0], pool.FreeBlocksInEvictionOrder.Select(x => x.Id));
        Assert.Equal(1, pool.NumCachedBlocks);
        Assert.Equal(2, pool.Allocate().Id);
        Assert.Equal(1, pool.Allocate().Id);
        Assert.Equal(0, pool.Allocate().Id);
        Assert.Null(a.Hash);
        Assert.Equal(0, pool.NumCachedBlocks);
        Assert.Null(pool.TryTakeCached(Key(0)));
    }

    [Fact]
    public void A_freed_cached_block_is_revived_by_its_hash()
    {
        var pool = new BlockPool(2);
        var a = pool.Allocate();
        pool.Cache(a, Key(7));
        pool.Free(a);
        Assert.Equal(2, pool.NumFreeBlocks);

        var revived = pool.TryTakeCached(Key(7));

        Assert.Same(a, revived);
        Assert.Equal(1, a.RefCount);
        Assert.Equal(1, pool.NumFreeBlocks);
        Assert.Equal(1, pool.Allocate().Id);
    }

    [Fact]
    public void Freeing_more_often_than_taken_throws()
    {
        var pool = new BlockPool(1);
        var a = pool.Allocate();
        pool.Free(a);
        Assert.Throws<InvalidOperationException>(() => pool.Free(a));
        pool.Allocate();
        Assert.Throws<InvalidOperationException>(() => pool.Allocate());
    }

    [Fact]
    public void Disabling_prefix_caching_forgets_hashes_and_finds_nothing()
    {
        var pool = new BlockPool(2);
        var a = pool.Allocate();
        pool.Cache(a, Key(1));
        pool.EnablePrefixCaching = false;

        Assert.Equal(0, pool.NumCachedBlocks);
        Assert.Null(pool.TryTakeCached(Key(1)));
    }

    /// <summary>
    /// Random runs of allocate, free, cache, lookup and reset checked against a model: owners (block
    /// tables), the LRU free order and the hash map, rebuilt in the plainest way.
    /// </summary>
    [EngineProperty]
    public void Pool_matches_a_model_of_owners_free_order_and_hashes(PoolScenario scenario)
    {
        var pool = new BlockPool(scenario.NumBlocks);
        var owners = new List<List<int>>();
        var freeOrder = Enumerable.Range(0, scenario.NumBlocks).ToList();
        var cached = new Dictionary<BlockHash, int>();
        var hashes = new BlockHash?[scenario.NumBlocks];

        foreach (var op in scenario.Ops)
        {
            switch (op.Kind)
            {
                case PoolOpKind.AllocateNew or PoolOpKind.AllocateMore:
                    if (freeOrder.Count == 0)
                    {
                        Assert.Throws<InvalidOperationException>(() => pool.Allocate());
                        break;
                    }
                    int expected = freeOrder[0];
                    freeOrder.RemoveAt(0);
                    if (hashes[expected] is { } evicted && cached.GetValueOrDefault(evicted, -1) == expected) cached.Remove(evicted);
                    hashes[expected] = null;
                    Assert.DoesNotContain(owners, o => o.Contains(expected));
                    Assert.Equal(expected, pool.Allocate().Id);
                    if (op.Kind == PoolOpKind.AllocateNew || owners.Count == 0) owners.Add([expected]);
                    else owners[op.Owner % owners.Count].Add(expected);
                    break;

                case PoolOpKind.FreeOwner when owners.Count > 0:
                    var table = owners[op.Owner % owners.Count];
                    owners.Remove(table);
                    for (int i = table.Count - 1; i >= 0; i--)
                    {
                        int id = table[i];
                        pool.Free(pool[id]);
                        if (owners.Any(o => o.Contains(id))) continue;
                        if (hashes[id] is { } h && cached.GetValueOrDefault(h, -1) != id) hashes[id] = null;
                        freeOrder.Add(id);
                    }
                    break;

                case PoolOpKind.Cache when owners.Count > 0:
                    var owner = owners[op.Owner % owners.Count];
                    int target = owner[op.Block % owner.Count];
                    if (hashes[target] is not null)
                    {
                        Assert.Throws<InvalidOperationException>(() => pool.Cache(pool[target], Key(op.Key)));
                        break;
                    }
                    pool.Cache(pool[target], Key(op.Key));
                    hashes[target] = Key(op.Key);
                    cached.TryAdd(Key(op.Key), target);
                    break;

                case PoolOpKind.Lookup:
                    var found = pool.TryTakeCached(Key(op.Key));
                    if (!cached.TryGetValue(Key(op.Key), out int hit))
                    {
                        Assert.Null(found);
                        break;
                    }
                    Assert.Equal(hit, found?.Id);
                    freeOrder.Remove(hit);
                    owners.Add([hit]);
                    break;

                case PoolOpKind.Reset:
                    pool.ResetPrefixCache();
                    cached.Clear();
                    foreach (int id in freeOrder) hashes[id] = null;
                    break;
            }
            CheckInvariants(pool, owners, freeOrder, cached, hashes);
        }
    }

    static void CheckInvariants(BlockPool pool, List<List<int>> owners, List<int> freeOrder,
        Dictionary<BlockHash, int> cached, BlockHash?[] hashes)
    {
        Assert.Equal(pool.NumBlocks, pool.NumFreeBlocks + pool.NumUsedBlocks);
        Assert.Equal(freeOrder, pool.FreeBlocksInEvictionOrder.Select(b => b.Id));
        Assert.Equal(cached.Count, pool.NumCachedBlocks);
        for (int id = 0; id < pool.NumBlocks; id++)
        {
            var block = pool[id];
            int refs = owners.Sum(o => o.Count(x => x == id));
            Assert.True(block.RefCount >= 0);
            Assert.Equal(refs, block.RefCount);
            Assert.Equal(refs == 0, block.IsFree);
            Assert.Equal(hashes[id], block.Hash);
        }
        foreach (var (hash, id) in cached) Assert.Equal(hash, pool[id].Hash);
        // A table never holds one block twice: sharing happens only across tables, through the cache.
        Assert.All(owners, o => Assert.Equal(o.Count, o.Distinct().Count()));
    }
}
