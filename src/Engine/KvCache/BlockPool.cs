namespace Rollout.Engine.KvCache;

/// <summary>
/// Owns every KV block: reference counts, the LRU free list and the map from block hash to cached
/// block. Freed blocks keep their hash at the tail of the free list, so a later request with the
/// same prefix can revive them; new blocks come from the head, evicting the least recently freed.
/// </summary>
internal sealed class BlockPool
{
    readonly KvBlock[] _blocks;
    readonly LinkedList<KvBlock> _free = new();
    readonly Dictionary<BlockHash, KvBlock> _cached = [];
    bool _enablePrefixCaching;

    public BlockPool(int numBlocks, bool enablePrefixCaching = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        _blocks = new KvBlock[numBlocks];
        for (int id = 0; id < numBlocks; id++)
        {
            _blocks[id] = new KvBlock(id);
            _free.AddLast(_blocks[id].FreeNode);
        }
        _enablePrefixCaching = enablePrefixCaching;
    }

    public int NumBlocks => _blocks.Length;

    /// <summary>Blocks not held by any sequence, cached ones included (they are evictable).</summary>
    public int NumFreeBlocks => _free.Count;

    public int NumUsedBlocks => _blocks.Length - _free.Count;

    /// <summary>Blocks findable by hash, in use or free.</summary>
    public int NumCachedBlocks => _cached.Count;

    /// <summary>The hashes of the blocks findable by hash.</summary>
    public IEnumerable<BlockHash> CachedHashes => _cached.Keys;

    /// <summary>Turning it off forgets every cached hash.</summary>
    public bool EnablePrefixCaching
    {
        get => _enablePrefixCaching;
        set
        {
            if (!value) ResetPrefixCache();
            _enablePrefixCaching = value;
        }
    }

    public KvBlock this[int id] => _blocks[id];

    /// <summary>Free blocks from the next one <see cref="Allocate"/> hands out to the last.</summary>
    public IEnumerable<KvBlock> FreeBlocksInEvictionOrder => _free;

    /// <summary>Takes the least recently freed block, evicting its cached hash; its caller owns one reference.</summary>
    public KvBlock Allocate()
    {
        var node = _free.First ?? throw new InvalidOperationException("no free KV blocks: check NumFreeBlocks before allocating");
        var block = node.Value;
        _free.Remove(node);
        Forget(block);
        block.RefCount = 1;
        return block;
    }

    /// <summary>Drops one reference; the last one returns the block to the tail of the free list.</summary>
    public void Free(KvBlock block)
    {
        if (block.RefCount <= 0)
            throw new InvalidOperationException($"{block} is freed more often than it was taken");
        if (--block.RefCount > 0) return;
        // A duplicate of a block already cached under the same hash cannot be found again; drop its hash.
        if (block.Hash is { } hash && (!_cached.TryGetValue(hash, out var owner) || owner != block))
            block.Hash = null;
        _free.AddLast(block.FreeNode);
    }

    /// <summary>
    /// Returns a block only its caller holds, and that holds nothing worth keeping, to the head of the free list,
    /// so the next allocation takes it before evicting a cached block.
    /// </summary>
    public void Release(KvBlock block)
    {
        if (block.RefCount != 1 || block.Hash is not null)
            throw new InvalidOperationException($"{block} is shared or hashed: only a private, unhashed block is released");
        block.RefCount = 0;
        _free.AddFirst(block.FreeNode);
    }

    /// <summary>Adds an owner to a block in use (a forked sequence sharing its parent's full blocks).</summary>
    public void Share(KvBlock block)
    {
        if (block.IsFree || block.RefCount <= 0) throw new InvalidOperationException($"block {block.Id} is not in use and cannot be shared");
        block.RefCount++;
    }

    /// <summary>
    /// The cached block with this hash, with one more reference for the caller (revived from the free
    /// list if nobody held it), or null.
    /// </summary>
    public KvBlock? TryTakeCached(BlockHash hash)
    {
        if (!_enablePrefixCaching || !_cached.TryGetValue(hash, out var block)) return null;
        if (block.IsFree) _free.Remove(block.FreeNode);
        block.RefCount++;
        return block;
    }

    /// <summary>
    /// Makes a block that just became full findable by its hash. If another block already holds the
    /// same prefix, that one stays the cached copy and this one keeps its hash only for chaining.
    /// </summary>
    public void Cache(KvBlock block, BlockHash hash)
    {
        if (block.IsFree)
            throw new InvalidOperationException($"{block} is free; only blocks in use are cached");
        if (block.Hash is not null)
            throw new InvalidOperationException($"{block} is already hashed");
        block.Hash = hash;
        if (_enablePrefixCaching) _cached.TryAdd(hash, block);
    }

    /// <summary>
    /// Forgets every cached hash (after a weight update, say): free blocks lose their hashes, blocks in
    /// use keep theirs for their owners' hash chains but can no longer be found.
    /// </summary>
    public void ResetPrefixCache()
    {
        _cached.Clear();
        foreach (var block in _free) block.Hash = null;
    }

    void Forget(KvBlock block)
    {
        if (block.Hash is { } hash && _cached.TryGetValue(hash, out var owner) && owner == block)
            _cached.Remove(hash);
        block.Hash = null;
    }
}
