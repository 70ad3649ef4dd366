using Rollout.Client;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models.Loading;
using Rollout.Models.Testing;
using Rollout.TestSupport;

namespace Rollout.Tests.Client;

/// <summary>Scoring a trajectory's tokens gives back the logprobs the engine sampled them with, in process and on remote engines.</summary>
[Collection(RemoteEnginesCollection.Name)]
public sealed class ScoreTests(RemoteEnginesFixture engines)
{
    static readonly IReadOnlyList<int>[] Prompts = [[17, 300, 42, 5], [256, 3, 8]];
    static readonly SamplingParams Sampling = new() { Temperature = 0.7f, TopK = 50, Seed = 9, MaxTokens = 10, LogprobsMode = LogprobsMode.Processed };
    static readonly ScoreOptions Processed = new() { Mode = LogprobsMode.Processed, Sampling = Sampling };

    async Task<(Trajectory[] Trajectories, ScoreRequest[] Requests)> SampleAsync()
    {
        await using var client = new LocalRolloutClient(engines.Local);
        var trajectories = (await client.GenerateAsync(Prompts, n: 2, Sampling)).SelectMany(g => g.Trajectories).ToArray();
        return (trajectories, [.. trajectories.Select(t => new ScoreRequest(t.PromptTokenIds, t.CompletionTokenIds))]);
    }

    static void AssertScoresAre(IReadOnlyList<Trajectory> trajectories, IReadOnlyList<ScoredSequence> scores)
    {
        Assert.Equal(trajectories.Count, scores.Count);
        foreach (var (t, s) in trajectories.Zip(scores))
        {
            Assert.Equal(t.Logprobs.Count, s.Logprobs.Count);
            foreach (var (sampled, scored) in t.Logprobs.Zip(s.Logprobs)) Assert.Equal(sampled, scored, 1e-4f);
            Assert.Equal(0L, s.WeightVersion);
        }
    }

    [Fact]
    public async Task Local_scores_are_the_processed_logprobs_the_tokens_were_sampled_with()
    {
        var (trajectories, requests) = await SampleAsync();
        await using var client = new LocalRolloutClient(engines.Local);

        AssertScoresAre(trajectories, await client.ScoreAsync(requests, Processed));
    }

    [Fact]
    public async Task Remote_scores_split_over_two_engines_are_the_same()
    {
        var (trajectories, requests) = await SampleAsync();
        await using var client = engines.Remote();

        AssertScoresAre(trajectories, await client.ScoreAsync(requests, Processed));
    }

    [Fact]
    public async Task The_reference_model_scores_with_its_own_weights()
    {
        var (_, requests) = await SampleAsync();
        using var other = ModelLoader.Load(TinyModels.Directory("Qwen3ForCausalLM", new TinyModelOptions { Seed = 99 }));
        using var reference = LlmEngine.Create(other, new EngineOptions { KvCacheBytes = 8 << 20 });
        await using var client = new LocalRolloutClient(engines.Local, reference);
        await using var withoutReference = new LocalRolloutClient(engines.Local);

        var scores = await client.ScoreAsync(requests, new ScoreOptions { Model = ScoreModel.Reference });
        var policy = await client.ScoreAsync(requests);

        for (int i = 0; i < requests.Length; i++)
        {
            var direct = await reference.ScoreAsync(requests[i].PromptTokenIds, requests[i].CompletionTokenIds);
            Assert.Equal(direct.Logprobs, scores[i].Logprobs);
            Assert.NotEqual(policy[i].Logprobs, scores[i].Logprobs);
        }
        await Assert.ThrowsAsync<InvalidOperationException>(() => withoutReference.ScoreAsync(requests, new ScoreOptions { Model = ScoreModel.Reference }));
    }

    [Fact]
    public async Task Bad_sequences_are_refused_before_anything_is_scored()
    {
        await using var local = new LocalRolloutClient(engines.Local);
        await using var remote = engines.Remote();

        foreach (IRolloutClient client in new IRolloutClient[] { local, remote })
        {
            var outside = await Assert.ThrowsAsync<ArgumentException>(() => client.ScoreAsync([new([1, 2], [3]), new([1], [engines.VocabSize])]));
            Assert.StartsWith("sequences[1]: ", outside.Message);
            await Assert.ThrowsAsync<ArgumentException>(() => client.ScoreAsync([new([], [3])]));
        }
    }
}
