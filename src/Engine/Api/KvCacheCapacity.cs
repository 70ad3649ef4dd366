namespace Rollout.Engine;

/// <summary>The size of the engine's KV cache, fixed at start.</summary>
/// <param name="Blocks">Number of blocks.</param>
/// <param name="BlockSize">Tokens per block.</param>
/// <param name="Bytes">Bytes of K and V across all layers.</param>
public sealed record KvCacheCapacity(int Blocks, int BlockSize, long Bytes)
{
    /// <summary>Tokens the cache holds in all.</summary>
    public long Tokens => (long)Blocks * BlockSize;

    /// <inheritdoc />
    public override string ToString() => $"KV cache: {Blocks} blocks x {BlockSize} tokens = {Tokens} tokens, {Bytes / (1024.0 * 1024.0):F1} MiB";
}
