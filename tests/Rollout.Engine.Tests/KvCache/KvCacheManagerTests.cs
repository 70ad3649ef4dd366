using Rollout.Engine.KvCache;
using Rollout.Engine.Sequences;

namespace Rollout.Engine.Tests.KvCache;

public class KvCacheManagerTests
{
    static int[] Prompt(int length, int salt = 0) => Enumerable.Range(salt * 100_000, length).ToArray();

    /// <summary>Admits the sequence and computes the rest of its tokens in one go, as one prefill step would.</summary>
    static int Prefill(KvCacheManager kv, Sequence seq)
    {
        int hit = kv.AllocateForAdmission(seq);
        int rest = seq.NumTokens - seq.NumComputedTokens;
        Assert.True(kv.TryAllocateSlots(seq, rest));
        kv.CommitComputed(seq, rest);
        return hit;
    }

    [Fact]
    public void Eight_samples_of_one_prompt_hit_the_cache_for_all_but_the_last_partial_block()
    {
        var kv = new KvCacheManager(numBlocks: 256, blockSize: 16);
        int[] prompt = Prompt(256);
        var first = new Sequence("r", 0, prompt);
        Assert.Equal(0, Prefill(kv, first));

        // While the first still runs: its full blocks are shared.
        var running = Enumerable.Range(1, 3).Select(i => new Sequence("r", i, prompt)).ToList();
        foreach (var seq in running)
        {
            Assert.True(Prefill(kv, seq) >= 0.85 * prompt.Length);
            Assert.Equal(240, seq.NumCachedPromptTokens);
            Assert.Equal(first.BlockTable[..15], seq.BlockTable[..15]);
        }

        // After everything finished: the blocks are revived from the free list.
        kv.Free(first);
        running.ForEach(kv.Free);
        for (int i = 4; i < 8; i++)
            Assert.True(Prefill(kv, new Sequence("r", i, prompt)) >= 0.85 * prompt.Length);

        Assert.Equal(8 * 256, kv.PromptTokensQueried);
        Assert.Equal(7 * 240, kv.PromptTokensHit);
    }

    [Fact]
    public void Blocks_computed_under_another_weight_version_never_hit()
    {
        var kv = new KvCacheManager(numBlocks: 16, blockSize: 4);
        var old = new Sequence("a", 0, Prompt(17));
        Prefill(kv, old);

        kv.WeightVersion = 1;
        var fresh = new Sequence("b", 0, Prompt(17));
        Assert.Equal(0, Prefill(kv, fresh));
        Assert.Empty(fresh.BlockTable.Intersect(old.BlockTable));

        // And the new version's blocks are cached in their own right.
        Assert.Equal(16, kv.AllocateForAdmission(new Sequence("c", 0, Prompt(17))));
    }

    [Fact]
    public void A_block_whose_rows_span_weight_versions_is_never_cached_nor_anything_after_it()
    {
        var kv = new KvCacheManager(numBlocks: 16, blockSize: 4);
        var seq = new Sequence("a", 0, Prompt(14));
        kv.AllocateForAdmission(seq);
        Assert.True(kv.TryAllocateSlots(seq, 6));
        kv.CommitComputed(seq, 6);                       // block 0 full and block 1 half, under version 0
        int cachedBefore = kv.Pool.NumCachedBlocks;

        kv.WeightVersion = 1;
        Assert.True(kv.TryAllocateSlots(seq, 8));
        kv.CommitComputed(seq, 8);                       // block 1 filled under version 1; blocks 2, 3 wholly version 1

        Assert.Equal(1, cachedBefore);
        Assert.Equal(1, kv.Pool.NumCachedBlocks);
        Assert.Null(kv.Pool[seq.BlockTable[1]].Hash);
        Assert.Null(kv.Pool[seq.BlockTable[2]].Hash);
        kv.Free(seq);
        // Under either version, only what one version computed whole comes back.
        Assert.Equal(0, kv.AllocateForAdmission(new Sequence("b", 0, Prompt(14))));
        kv.WeightVersion = 0;
        Assert.Equal(4, kv.AllocateForAdmission(new Sequence("c", 0, Prompt(14))));
    }

    [Fact]
    public void A_block_filled_over_several_steps_of_one_version_is_cached_under_it()
    {
        var kv = new KvCacheManager(numBlocks: 16, blockSize: 4);
        kv.WeightVersion = 3;
        var seq = new Sequence("a", 0, Prompt(9));
        kv.AllocateForAdmission(seq);
        foreach (int chunk in new[] { 1, 2, 3, 2 })
        {
            Assert.True(kv.TryAllocateSlots(seq, chunk));
            kv.CommitComputed(seq, chunk);
        }
        kv.Free(seq);
        Assert.Equal(8, kv.AllocateForAdmission(new Sequence("b", 0, Prompt(9))));
    }

    [Fact]
    public void A_fork_inherits_the_versions_of_its_parents_partial_block()
    {
        var kv = new KvCacheManager(numBlocks: 16, blockSize: 4);
        var parent = new Sequence("a", 0, Prompt(6));
        kv.AllocateForAdmission(parent);
        Assert.True(kv.TryAllocateSlots(parent, 5));
        kv.CommitComputed(parent, 5);                    // rows 4 of block 1 under version 0
        kv.WeightVersion = 1;
        Assert.True(kv.TryAllocateSlots(parent, 1));     // the prompt's last row, computed under version 1 this step

        var child = new Sequence("a", 1, Prompt(6));
        Assert.True(kv.TryFork(parent, child, 6, out _));
        kv.CommitComputed(parent, 1);
        child.OutputTokenIds.AddRange([7, 8]);
        Assert.True(kv.TryAllocateSlots(child, 2));
        kv.CommitComputed(child, 2);                     // the child fills its copy of block 1 under version 1

        Assert.Null(kv.Pool[child.BlockTable[1]].Hash);
        Assert.Null(kv.Pool[parent.BlockTable[1]].Hash);
    }

    [Fact]
    public void Disabled_prefix_caching_hits_nothing()
    {
        var kv = new KvCacheManager(numBlocks: 16, blockSize: 4, enablePrefixCaching: false);
        Prefill(kv, new Sequence("a", 0, Prompt(12)));
        Assert.Equal(0, kv.AllocateForAdmission(new Sequence("b", 0, Prompt(12))));
        Assert.Equal(0, kv.Pool.NumCachedBlocks);
    }

    [EngineProperty]
    public void The_last_token_is_always_computed_and_partial_blocks_never_hashed(PrefillCase c)
    {
        var kv = new KvCacheManager(numBlocks: 80, blockSize: c.BlockSize);
        var first = new Sequence("a", 0, Prompt(c.Length));
        Prefill(kv, first);

        int fullBlocks = c.Length / c.BlockSize;
        Assert.Equal(fullBlocks, kv.Pool.NumCachedBlocks);
        for (int i = 0; i < first.BlockTable.Count; i++)
            Assert.Equal(i < fullBlocks, kv.Pool[first.BlockTable[i]].Hash is not null);

        var second = new Sequence("b", 0, Prompt(c.Length));
        int hit = kv.AllocateForAdmission(second);
        Assert.Equal((c.Length - 1) / c.BlockSize * c.BlockSize, hit);
        Assert.True(hit < c.Length);
        Assert.Equal(hit, second.NumComputedTokens);
    }

    [Fact]
    public void Decoded_tokens_fill_blocks_that_a_recomputation_finds_again()
    {
        var kv = new KvCacheManager(numBlocks: 8, blockSize: 4);
        var seq = new Sequence("a", 0, Prompt(6));
        Prefill(kv, seq);
        foreach (int token in new[] { 7, 8, 9 })
        {
            seq.OutputTokenIds.Add(token);
            Assert.True(kv.TryAllocateSlots(seq, 1));
            kv.CommitComputed(seq, 1);
        }
        Assert.Equal(2, kv.Pool.NumCachedBlocks);

        // Preempted: its KV is dropped, then found again on readmission.
        kv.Free(seq);
        seq.NumPreemptions++;
        Assert.Equal(0, seq.NumComputedTokens);
        Assert.Equal(8, kv.AllocateForAdmission(seq));
        Assert.Equal(6, kv.PromptTokensQueried);
    }

    [Fact]
    public void TryAllocateSlots_is_all_or_nothing()
    {
        var kv = new KvCacheManager(numBlocks: 3, blockSize: 4);
        var seq = new Sequence("a", 0, Prompt(13));
        kv.AllocateForAdmission(seq);

        Assert.False(kv.TryAllocateSlots(seq, 13));
        Assert.Empty(seq.BlockTable);
        Assert.Equal(3, kv.NumFreeBlocks);

        Assert.True(kv.TryAllocateSlots(seq, 12));
        Assert.Equal(3, seq.BlockTable.Count);
        Assert.Equal(1.0, kv.Usage);
        // Slots already reserved need no new block.
        Assert.True(kv.TryAllocateSlots(seq, 12));
        Assert.Equal(3, seq.BlockTable.Count);
    }

    [Fact]
    public void Free_returns_tail_blocks_first_so_they_are_evicted_first()
    {
        var kv = new KvCacheManager(numBlocks: 4, blockSize: 2);
        var seq = new Sequence("a", 0, Prompt(8));
        Prefill(kv, seq);
        var table = seq.BlockTable.ToArray();

        kv.Free(seq);

        Assert.Empty(seq.BlockTable);
        Assert.Equal(table.Reverse(), kv.Pool.FreeBlocksInEvictionOrder.Select(b => b.Id));
    }

    [Fact]
    public void SlotOf_maps_positions_through_the_block_table()
    {
        var kv = new KvCacheManager(numBlocks: 4, blockSize: 4);
        var filler = new Sequence("f", 0, Prompt(4));
        Prefill(kv, filler);
        var seq = new Sequence("a", 0, Prompt(6, salt: 1));
        Prefill(kv, seq);

        Assert.Equal([1, 2], seq.BlockTable);
        Assert.Equal(4, kv.SlotOf(seq, 0));
        Assert.Equal(7, kv.SlotOf(seq, 3));
        Assert.Equal(9, kv.SlotOf(seq, 5));
    }

    [Fact]
    public void UndoAdmission_releases_the_hits_and_their_statistics()
    {
        var kv = new KvCacheManager(numBlocks: 8, blockSize: 4);
        var first = new Sequence("a", 0, Prompt(9));
        Prefill(kv, first);
        kv.Free(first);
        var seq = new Sequence("b", 0, Prompt(9));
        Assert.Equal(8, kv.AllocateForAdmission(seq));

        kv.UndoAdmission(seq);

        Assert.Equal(8, kv.NumFreeBlocks);
        Assert.Empty(seq.BlockTable);
        Assert.Equal(0, seq.NumComputedTokens);
        Assert.Equal(9, kv.PromptTokensQueried);
        Assert.Equal(0, kv.PromptTokensHit);
    }

    [Fact]
    public void ResetPrefixCache_forgets_freed_prefixes()
    {
        var kv = new KvCacheManager(numBlocks: 8, blockSize: 4);
        var first = new Sequence("a", 0, Prompt(9));
        Prefill(kv, first);
        kv.Free(first);

        kv.ResetPrefixCache();

        Assert.Equal(0, kv.Pool.NumCachedBlocks);
        Assert.Equal(0, kv.AllocateForAdmission(new Sequence("b", 0, Prompt(9))));
    }

    [Fact]
    public void Truncating_to_the_computed_tokens_gives_back_the_speculative_blocks_unhashed_and_first_in_line()
    {
        var kv = new KvCacheManager(numBlocks: 8, blockSize: 4);
        var seq = new Sequence("r", 0, Prompt(6));
        Prefill(kv, seq);
        seq.OutputTokenIds.Add(7);
        // The next token and five proposals: slots up to position 11, three blocks.
        Assert.True(kv.TryAllocateSlots(seq, 6));
        Assert.Equal(3, seq.BlockTable.Count);
        int speculativeBlock = seq.BlockTable[2];
        // Two of the fed tokens verified (the last one and one proposal): computed up to position 8.
        for (int i = 0; i < 2; i++) seq.OutputTokenIds.Add(8 + i);
        kv.CommitComputed(seq, 2);

        kv.TruncateToComputed(seq);

        Assert.Equal(2, seq.BlockTable.Count);
        Assert.Equal(6, kv.NumFreeBlocks);
        Assert.Null(kv.Pool[speculativeBlock].Hash);
        Assert.Equal(speculativeBlock, kv.Pool.FreeBlocksInEvictionOrder.First().Id);
        // The full block of verified tokens was hashed; the released one, which held only proposals, was not.
        Assert.NotNull(kv.Pool[seq.BlockTable[1]].Hash);
        Assert.Equal(2, kv.Pool.NumCachedBlocks);
    }
}
