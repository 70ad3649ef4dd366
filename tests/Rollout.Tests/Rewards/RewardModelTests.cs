using Rollout.Client;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Rewards;
using Rollout.Server;
using Rollout.TestSupport;
using Rollout.Tests.Server;

namespace Rollout.Tests.Rewards;

/// <summary>A reward model in process (<see cref="EngineRewardModel"/>) and behind <c>/rl/reward</c> (<see cref="RemoteRewardModel"/>) give the engine's rewards, also as a pipeline component.</summary>
public sealed class RewardModelTests : IAsyncLifetime
{
    static readonly string Reward = TinyModels.Directory("Qwen3ForSequenceClassification");
    static readonly EngineOptions Options = new() { KvCacheBytes = 8 << 20 };
    static readonly ScoreRequest[] Sequences = [new([17, 300, 42], [5, 6, 7]), new([256, 3, 8], []), new([9], [400, 401])];

    LoadedModel _local = null!;
    LlmEngine _engine = null!;
    RolloutServer _server = null!;

    public async Task InitializeAsync()
    {
        _local = ModelLoader.Load(Reward);
        _engine = LlmEngine.Create(_local, Options);
        var models = new ServedModels(ModelLoader.Load(ServerFixture.ModelDirectory)) { Reward = ModelLoader.Load(Reward) };
        _server = await RolloutServer.StartAsync(models, Options, new ServerOptions { Port = 0, ApiKey = ServerFixture.ApiKey }, configureLogging: _ => { });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _engine.Dispose();
        _local.Dispose();
    }

    [Fact]
    public async Task Both_give_the_engines_reward_of_prompt_then_completion()
    {
        var expected = await Task.WhenAll(Sequences.Select(s => _engine.RewardAsync([.. s.PromptTokenIds, .. s.CompletionTokenIds])));
        Assert.True(expected.Select(r => r.Reward).Distinct().Count() > 1, "the sequences get different rewards, so order is checked");

        var local = await new EngineRewardModel(_engine).RewardAsync(Sequences, default);
        var remote = await new RemoteRewardModel(_server.Address, ServerFixture.ApiKey).RewardAsync(Sequences, default);

        for (int i = 0; i < Sequences.Length; i++)
        {
            Assert.Equal(expected[i].Reward, local[i], 1e-5f);
            Assert.Equal(expected[i].Reward, remote[i], 1e-5f);
        }
    }

    [Fact]
    public async Task As_a_pipeline_component_the_model_scores_each_trajectory()
    {
        var group = new TrajectoryGroup
        {
            PromptIndex = 0,
            PromptTokenIds = Sequences[0].PromptTokenIds,
            Trajectories = Sequences.Take(2).Select((s, i) => new Trajectory
            {
                PromptIndex = 0, Index = i, PromptTokenIds = Sequences[0].PromptTokenIds, CompletionTokenIds = Sequences[i].CompletionTokenIds,
                Logprobs = new float[Sequences[i].CompletionTokenIds.Count], WeightVersions = new long[Sequences[i].CompletionTokenIds.Count],
            }).ToArray(),
        };
        var pipeline = new RewardPipeline([new RewardComponent("rm", RewardFunction.FromModel(new RemoteRewardModel(_server.Address, ServerFixture.ApiKey)), Weight: 2f)]);

        var rewarded = (await pipeline.ScoreAsync([group]))[0];

        for (int i = 0; i < 2; i++)
        {
            float expected = (await _engine.RewardAsync([.. Sequences[0].PromptTokenIds, .. Sequences[i].CompletionTokenIds])).Reward;
            Assert.Empty(rewarded.Outcomes[i].Failures);
            Assert.Equal(2 * expected, rewarded.Outcomes[i].Total!.Value, 1e-4f);
        }
    }

    [Fact]
    public async Task A_bad_sequence_is_refused_saying_which_before_anything_is_rewarded()
    {
        ScoreRequest[] bad = [Sequences[0], new([1], [100_000])];
        var local = await Assert.ThrowsAsync<ArgumentException>(() => new EngineRewardModel(_engine).RewardAsync(bad, default));
        Assert.StartsWith("sequences[1]:", local.Message);
        var remote = await Assert.ThrowsAsync<RolloutServerException>(() => new RemoteRewardModel(_server.Address, ServerFixture.ApiKey).RewardAsync(bad, default));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, remote.Status);
        Assert.Equal("sequences[1].completion_ids[0]", remote.Param);
        var unauthorised = await Assert.ThrowsAsync<RolloutServerException>(() => new RemoteRewardModel(_server.Address).RewardAsync(Sequences, default));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, unauthorised.Status);
    }
}
