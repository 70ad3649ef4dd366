namespace Rollout.Engine.KvCache;

/// <summary>
/// One fixed-size slice of the KV cache. In use while <see cref="RefCount"/> &gt; 0; otherwise it
/// sits in the pool's free list, keeping its <see cref="Hash"/> until it is handed out again.
/// </summary>
internal sealed class KvBlock
{
    public KvBlock(int id)
    {
        Id = id;
        FreeNode = new LinkedListNode<KvBlock>(this);
    }

    public int Id { get; }

    /// <summary>Sequences whose block table holds this block.</summary>
    public int RefCount { get; set; }

    /// <summary>Set once the block is full and its KV computed; null for partial or uncached blocks.</summary>
    public BlockHash? Hash { get; set; }

    /// <summary>This block's node in the free list, kept so that reviving a cached block is O(1).</summary>
    public LinkedListNode<KvBlock> FreeNode { get; }

    public bool IsFree => FreeNode.List is not null;

    public override string ToString() => $"block {Id} (refs {RefCount}{(Hash is { } h ? $", {h}" : "")})";
}
