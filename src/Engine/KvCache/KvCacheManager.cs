using Rollout.Engine.Sequences;

namespace Rollout.Engine.KvCache;

/// <summary>
/// Maps sequences onto KV blocks: finds cached prefixes at admission, grows block tables as tokens
/// are scheduled, hashes blocks as they fill, and gives blocks back when sequences finish or are
/// preempted. Decides nothing about who runs; that is the scheduler's job.
/// </summary>
internal sealed class KvCacheManager
{
    readonly BlockPool _pool;

    public KvCacheManager(int numBlocks, int blockSize, bool enablePrefixCaching = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        _pool = new BlockPool(numBlocks, enablePrefixCaching);
        BlockSize = blockSize;
    }

    public BlockPool Pool => _pool;

    public int BlockSize { get; }

    public int NumBlocks => _pool.NumBlocks;

    public int NumFreeBlocks => _pool.NumFreeBlocks;

    /// <summary>Fraction of blocks held by sequences (cached free blocks count as free).</summary>
    public double Usage => (double)_pool.NumUsedBlocks / _pool.NumBlocks;

    public bool EnablePrefixCaching
    {
        get => _pool.EnablePrefixCaching;
        set => _pool.EnablePrefixCaching = value;
    }

    /// <summary>
    /// Version of the weights computing new KV. Every block hash includes it, so after a change no
    /// lookup matches blocks computed before it.
    /// </summary>
    public long WeightVersion { get; set; }

    /// <summary>Prompt tokens looked up at first admission.</summary>
    public long PromptTokensQueried { get; private set; }

    /// <summary>Of <see cref="PromptTokensQueried"/>, those served by the prefix cache.</summary>
    public long PromptTokensHit { get; private set; }

    public double PrefixHitRate => PromptTokensQueried == 0 ? 0 : (double)PromptTokensHit / PromptTokensQueried;

    public int BlocksFor(int numTokens) => (numTokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Attaches the longest chain of cached full blocks that prefixes the sequence's tokens and marks
    /// those tokens computed. The last token, and any from <see cref="Sequence.ComputeFrom"/> on, is never
    /// taken from the cache: the model must run on it for the head to read its hidden state. Returns the
    /// number of tokens hit.
    /// </summary>
    public int AllocateForAdmission(Sequence seq)
    {
        if (seq.BlockTable.Count != 0 || seq.NumComputedTokens != 0)
            throw new InvalidOperationException($"{seq} already holds KV blocks");
        int cacheable = Math.Min(seq.NumTokens - 1, seq.ComputeFrom ?? int.MaxValue);
        int maxBlocks = _pool.EnablePrefixCaching ? cacheable / BlockSize : 0;
        Span<int> tokens = stackalloc int[BlockSize];
        BlockHash? parent = null;
        for (int i = 0; i < maxBlocks; i++)
        {
            seq.CopyTokens(i * BlockSize, tokens);
            var hash = PrefixHasher.Hash(parent, tokens, WeightVersion);
            var block = _pool.TryTakeCached(hash);
            if (block is null) break;
            seq.BlockTable.Add(block.Id);
            parent = hash;
        }
        int hit = seq.BlockTable.Count * BlockSize;
        seq.NumComputedTokens = hit;
        // Recomputing after preemption mostly hits the sequence's own blocks: not a prompt statistic.
        if (seq.NumPreemptions == 0)
        {
            seq.NumCachedPromptTokens = Math.Min(hit, seq.PromptTokenIds.Length);
            PromptTokensQueried += seq.PromptTokenIds.Length;
            PromptTokensHit += seq.NumCachedPromptTokens;
        }
        return hit;
    }

    /// <summary>
    /// Starts <paramref name="child"/> from the first <paramref name="tokens"/> tokens of
    /// <paramref name="parent"/> without computing them again: full blocks are shared, and a partly
    /// filled last block gets a fresh copy whose source and destination are returned in
    /// <paramref name="tailCopy"/> (the caller copies the KV). False, changing nothing, when no block
    /// is free for that copy. The child's prompt counts as served from the cache.
    /// </summary>
    public bool TryFork(Sequence parent, Sequence child, int tokens, out (int Source, int Destination)? tailCopy)
    {
        if (child.BlockTable.Count != 0) throw new InvalidOperationException($"{child} already holds KV blocks");
        int full = tokens / BlockSize;
        bool partial = tokens % BlockSize != 0;
        if (parent.BlockTable.Count < BlocksFor(tokens)) throw new InvalidOperationException($"{parent} holds no KV for {tokens} tokens");
        tailCopy = null;
        if (partial && _pool.NumFreeBlocks == 0) return false;
        for (int i = 0; i < full; i++)
        {
            _pool.Share(_pool[parent.BlockTable[i]]);
            child.BlockTable.Add(parent.BlockTable[i]);
        }
        if (partial)
        {
            int copy = _pool.Allocate().Id;
            child.BlockTable.Add(copy);
            tailCopy = (parent.BlockTable[full], copy);
            // The tail's rows before the parent's computed end came from earlier steps, the rest from this one.
            bool earlierRows = parent.NumComputedTokens > full * BlockSize;
            child.OpenBlockVersion = earlierRows ? KvVersions.Combine(parent.OpenBlockVersion, WeightVersion) : WeightVersion;
        }
        child.NumComputedTokens = tokens;
        child.NumCachedPromptTokens = Math.Min(tokens, child.PromptTokenIds.Length);
        PromptTokensQueried += child.PromptTokenIds.Length;
        PromptTokensHit += child.NumCachedPromptTokens;
        return true;
    }

    /// <summary>Reverses <see cref="AllocateForAdmission"/> when the sequence could not be admitted after all.</summary>
    public void UndoAdmission(Sequence seq)
    {
        if (seq.NumPreemptions == 0)
        {
            PromptTokensQueried -= seq.PromptTokenIds.Length;
            PromptTokensHit -= seq.NumCachedPromptTokens;
            seq.NumCachedPromptTokens = 0;
        }
        Free(seq);
    }

    /// <summary>
    /// Grows the block table to hold <c>NumComputedTokens + numNewTokens</c> tokens. All or nothing:
    /// false, with nothing allocated, when too few blocks are free.
    /// </summary>
    public bool TryAllocateSlots(Sequence seq, int numNewTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numNewTokens);
        int needed = BlocksFor(seq.NumComputedTokens + numNewTokens) - seq.BlockTable.Count;
        if (needed > _pool.NumFreeBlocks) return false;
        for (int i = 0; i < needed; i++) seq.BlockTable.Add(_pool.Allocate().Id);
        return true;
    }

    /// <summary>
    /// Records that the KV of the next <paramref name="numNewTokens"/> tokens is now in the cache,
    /// computed under <see cref="WeightVersion"/>, and makes every block that became full findable by
    /// its chained hash and the version of all its rows. A block whose rows span weight versions is
    /// never cached, and neither is anything after it in the sequence.
    /// </summary>
    public void CommitComputed(Sequence seq, int numNewTokens)
    {
        int from = seq.NumComputedTokens;
        int to = from + numNewTokens;
        if (numNewTokens <= 0 || to > seq.NumTokens || to > seq.BlockTable.Count * BlockSize)
            throw new InvalidOperationException($"cannot commit {numNewTokens} tokens to {seq}");
        long version = WeightVersion;
        // The first block touched may hold rows that earlier steps computed, under another version.
        long firstBlockVersion = from % BlockSize == 0 ? version : KvVersions.Combine(seq.OpenBlockVersion, version);
        seq.NumComputedTokens = to;
        seq.OpenBlockVersion = to / BlockSize == from / BlockSize ? firstBlockVersion : version;
        if (!_pool.EnablePrefixCaching) return;

        Span<int> tokens = stackalloc int[BlockSize];
        for (int i = from / BlockSize; i < to / BlockSize; i++)
        {
            long blockVersion = i == from / BlockSize ? firstBlockVersion : version;
            BlockHash? parent = i == 0 ? null : _pool[seq.BlockTable[i - 1]].Hash;
            // A chain broken while caching was off, or by a block of mixed versions, cannot be resumed:
            // its parents have no hashes.
            if (blockVersion == KvVersions.Mixed || (i > 0 && parent is null)) return;
            seq.CopyTokens(i * BlockSize, tokens);
            _pool.Cache(_pool[seq.BlockTable[i]], PrefixHasher.Hash(parent, tokens, blockVersion));
        }
    }

    /// <summary>
    /// Gives back the blocks past those that hold the sequence's computed tokens: what slots allocated for
    /// speculative tokens leave once the rejected ones are dropped. Rows past the computed end in a kept block
    /// are overwritten later; no block was hashed over them, since only computed tokens are committed.
    /// </summary>
    public void TruncateToComputed(Sequence seq)
    {
        int keep = BlocksFor(seq.NumComputedTokens);
        // Never hashed, so worth nothing cached: reused before any block that is.
        for (int i = seq.BlockTable.Count - 1; i >= keep; i--) _pool.Release(_pool[seq.BlockTable[i]]);
        seq.BlockTable.RemoveRange(keep, seq.BlockTable.Count - keep);
    }

    /// <summary>
    /// Returns the sequence's blocks, tail first so that its last blocks, the least likely to be
    /// shared, are evicted first. Its KV is gone afterwards: nothing counts as computed.
    /// </summary>
    public void Free(Sequence seq)
    {
        for (int i = seq.BlockTable.Count - 1; i >= 0; i--) _pool.Free(_pool[seq.BlockTable[i]]);
        seq.BlockTable.Clear();
        seq.NumComputedTokens = 0;
    }

    /// <summary>Index of the cache slot that holds the KV of the token at <paramref name="position"/>.</summary>
    public int SlotOf(Sequence seq, int position) =>
        seq.BlockTable[position / BlockSize] * BlockSize + position % BlockSize;

    /// <summary>Forgets every cached prefix, as after weights were replaced in place.</summary>
    public void ResetPrefixCache() => _pool.ResetPrefixCache();
}
