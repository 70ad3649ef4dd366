namespace Rollout.Engine;

/// <summary>How an <see cref="LlmEngine"/> batches and how much memory its KV cache takes.</summary>
public sealed record EngineOptions
{
    /// <summary>Tokens per KV block.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>KV cache size in bytes; when null, <see cref="KvCacheMemoryFraction"/> of free memory is used.</summary>
    public long? KvCacheBytes { get; init; }

    /// <summary>Fraction of the device's free memory the KV cache takes when <see cref="KvCacheBytes"/> is null.</summary>
    public double KvCacheMemoryFraction { get; init; } = 0.3;

    /// <summary>Most sequences in one step.</summary>
    public int MaxNumSequences { get; init; } = 256;

    /// <summary>Token budget of one step (decodes count one token each; prefills their chunk).</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Split long prompts into chunks that fit the token budget (else a prompt waits until it fits whole).</summary>
    public bool ChunkedPrefill { get; init; } = true;

    /// <summary>Reuse KV blocks of identical prompt prefixes across requests.</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>Longest prompt + completion the engine accepts; the model's context (and what the KV cache holds) when null.</summary>
    public int? MaxModelLength { get; init; }

    /// <summary>Seed of the draws of requests that give no seed of their own.</summary>
    public long Seed { get; init; }

    /// <summary>Speculative decoding; off when null.</summary>
    public SpeculativeOptions? Speculation { get; init; }

    internal void Validate()
    {
        if (BlockSize is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "block size must be in [1, 1024]");
        if (KvCacheBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(KvCacheBytes), KvCacheBytes, "KV cache bytes must be positive");
        if (KvCacheMemoryFraction is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(KvCacheMemoryFraction), KvCacheMemoryFraction, "KV cache memory fraction must be in (0, 1]");
        if (MaxNumSequences < 1) throw new ArgumentOutOfRangeException(nameof(MaxNumSequences), MaxNumSequences, "max sequences must be >= 1");
        if (MaxModelLength < 2) throw new ArgumentOutOfRangeException(nameof(MaxModelLength), MaxModelLength, "max model length must be >= 2 (a prompt token and a generated one)");
        if (MaxNumBatchedTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxNumBatchedTokens), MaxNumBatchedTokens, "token budget must be >= 1");
    }
}
