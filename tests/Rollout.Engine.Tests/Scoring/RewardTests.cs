using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Loading;
using Rollout.TestSupport;

namespace Rollout.Engine.Tests.Scoring;

/// <summary><see cref="LlmEngine.RewardAsync"/>: an engine over a sequence-classification head scores as the module does, and as HF does.</summary>
public class RewardTests
{
    [Fact]
    public async Task Rewards_equal_the_head_of_a_full_forward_and_a_second_reward_hits_the_prefix_cache()
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory("Qwen3ForSequenceClassification"));
        using var engine = LlmEngine.Create(loaded, new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8, MaxNumBatchedTokens = 16 });
        int[][] sequences = [[.. Enumerable.Range(3, 50)], [7], [.. Enumerable.Range(100, 17)]];
        var model = (SequenceClassificationModel)loaded.Model;

        var first = await Task.WhenAll(sequences.Select(s => engine.RewardAsync(s)));
        await engine.RunAtStepBoundaryAsync(_ => 0);
        Assert.Equal(0, engine.Metrics.PrefixCacheHitRate);
        var second = await engine.RewardAsync(sequences[0]);
        await engine.RunAtStepBoundaryAsync(_ => 0);

        for (int i = 0; i < sequences.Length; i++)
            Assert.True(Math.Abs(ScoreReference.Reward(model, sequences[i]) - first[i].Reward) <= 1e-5, $"sequence {i}: {first[i].Reward}");
        Assert.Equal(first[0].Reward, second.Reward, 1e-5);
        Assert.True(engine.Metrics.PrefixCacheHitRate > 0);
        Assert.Equal(0, engine.Metrics.KvCacheUsage);
    }

    [Fact]
    public async Task The_hf_reward_fixture_scores_through_the_engine_as_transformers_does()
    {
        string dir = Path.Combine(TestPaths.RepoFixtures, "hf", "llama-reward");
        using var file = SafetensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        using var ids = file.Read("input_ids");
        using var score = file.Read("score");
        using var loaded = ModelLoader.Load(dir);
        using var engine = LlmEngine.Create(loaded, new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8, MaxNumBatchedTokens = 16 });

        var reward = await engine.RewardAsync(ids.data<long>().Select(i => (int)i).ToArray());

        float expected = score.data<float>()[0];
        Assert.True(Math.Abs(expected - reward.Reward) <= 1e-4, $"reward {reward.Reward} vs transformers {expected}");
    }

    [Fact]
    public async Task A_reward_engine_refuses_to_generate_or_score_tokens()
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory("LlamaForSequenceClassification"));
        using var engine = LlmEngine.Create(loaded, new EngineOptions { KvCacheBytes = 4 << 20 });

        var generate = Assert.Throws<InvalidOperationException>(() => engine.AddRequest([1, 2], new SamplingParams()));
        Assert.Contains("reward model", generate.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => engine.ScoreAsync([1, 2], [3]));
        await Assert.ThrowsAsync<ArgumentException>(() => engine.RewardAsync([]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => engine.RewardAsync([1, loaded.Config.VocabSize]));
    }
}
