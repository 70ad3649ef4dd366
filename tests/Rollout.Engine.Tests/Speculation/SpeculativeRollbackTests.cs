using Rollout.Engine.Core;
using Rollout.Engine.KvCache;
using Rollout.Engine.Sampling;
using Rollout.Engine.Tests.Core;

namespace Rollout.Engine.Tests.Speculation;

/// <summary>
/// Rejected proposals leave no trace in the block pool: after the same greedy work, with and without speculation,
/// the pool holds the same number of free and cached blocks under the same hashes, and the prefix cache served
/// the same prompt tokens. A hash over an unverified token, or a block not given back, would show here.
/// </summary>
public class SpeculativeRollbackTests
{
    [Theory]
    [InlineData("ngram")]
    [InlineData("draft-other")]
    public void The_block_pool_ends_as_without_speculation(string proposer)
    {
        const string architecture = "Qwen3ForCausalLM";
        int vocab = TinyEngine.Model(architecture).Config.VocabSize;
        var first = SpeculativeGreedyTests.Cases(60, vocab, seed: 5);
        var second = SpeculativeGreedyTests.Cases(60, vocab, seed: 5).Select(c => (c.Prompt, c.MaxTokens + 3)).ToArray();
        var greedy = new SamplingParams { Temperature = 0, IgnoreEos = true };
        var options = new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 256 };
        using var plain = TinyEngine.Core(architecture, options);
        using var speculative = TinyEngine.Core(architecture, options with { Speculation = SpeculativeGreedyTests.Speculation(proposer, architecture) });

        foreach (var (batch, label) in new[] { (first, "first"), (second, "second, hitting the first's prefixes") })
        {
            var want = SpeculativeGreedyTests.RunAll(plain, batch, greedy, arrivalSeed: 1);
            var got = SpeculativeGreedyTests.RunAll(speculative, batch, greedy, arrivalSeed: 1);
            for (int i = 0; i < batch.Length; i++) Assert.Equal(want[i].Outputs[0].TokenIds, got[i].Outputs[0].TokenIds);
            Assert.True(speculative.Metrics().SpeculativeProposedTokens > speculative.Metrics().SpeculativeAcceptedTokens, "no proposal was rejected: nothing was rolled back");
            AssertSamePool(plain.KvCache, speculative.KvCache, label);
        }
    }

    static void AssertSamePool(KvCacheManager want, KvCacheManager got, string label)
    {
        Assert.True(want.NumFreeBlocks == got.NumFreeBlocks, $"{label}: {got.NumFreeBlocks} free blocks, {want.NumFreeBlocks} without speculation");
        Assert.True(want.Pool.NumCachedBlocks == got.Pool.NumCachedBlocks, $"{label}: {got.Pool.NumCachedBlocks} cached blocks, {want.Pool.NumCachedBlocks} without speculation");
        Assert.Equal(want.Pool.CachedHashes.Select(h => h.Value).Order(), got.Pool.CachedHashes.Select(h => h.Value).Order());
        Assert.Equal(want.PromptTokensHit, got.PromptTokensHit);
        Assert.All(got.Pool.FreeBlocksInEvictionOrder, block => Assert.Equal(0, block.RefCount));
    }
}
