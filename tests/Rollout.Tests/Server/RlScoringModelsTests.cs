using System.Text.Json;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server;
using Rollout.Server.Rl;
using Rollout.TestSupport;

namespace Rollout.Tests.Server;

/// <summary>A server with a reference model and a reward model beside its policy: <c>/rl/score</c> with <c>"model": "reference"</c> and <c>/rl/reward</c>.</summary>
public sealed class RlScoringModelsTests : IAsyncLifetime
{
    static readonly string Reference = TinyModels.Directory("LlamaForCausalLM");
    static readonly string Reward = TinyModels.Directory("Qwen3ForSequenceClassification");
    static readonly EngineOptions Options = new() { KvCacheBytes = 8 << 20 };
    static readonly int[][] Prompts = [[17, 300, 42, 5, 99, 123], [256, 3, 8]];
    static readonly int[][] Completions = [[5, 6, 7], []];

    RolloutServer _server = null!;
    HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        var models = new ServedModels(ModelLoader.Load(ServerFixture.ModelDirectory))
        {
            Reference = ModelLoader.Load(Reference),
            Reward = ModelLoader.Load(Reward),
        };
        _server = await RolloutServer.StartAsync(models, Options, new ServerOptions { Port = 0, ApiKey = ServerFixture.ApiKey }, configureLogging: _ => { });
        _client = ServerFixture.Client(_server, ServerFixture.ApiKey);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    static async Task<T[]> WithEngine<T>(string directory, Func<LlmEngine, Task<T[]>> use)
    {
        using var loaded = ModelLoader.Load(directory);
        using var engine = LlmEngine.Create(loaded, Options);
        return await use(engine);
    }

    [Fact]
    public async Task TheReferenceModelScoresWhenAskedFor()
    {
        var request = new Dictionary<string, object> { ["sequences"] = RlScoreEndpointTests.Sequences(Prompts, Completions), ["model"] = "reference" };
        var expected = await WithEngine(Reference, e => Task.WhenAll(Prompts.Select((p, i) => e.ScoreAsync(p, Completions[i]))));
        var policy = await Task.WhenAll(Prompts.Select((p, i) => _server.Engine.ScoreAsync(p, Completions[i])));

        var json = (await _client.PostOkAsync("/rl/score", request)).Deserialize<RlScoreResponse>(RlScoreEndpointTests.Snake)!;
        var msgpack = await RlScoreEndpointTests.PostMessagePackAsync<RlScoreResponse>(_client, "/rl/score", request);

        for (int i = 0; i < Prompts.Length; i++)
        {
            RlScoreEndpointTests.AssertClose(expected[i].Logprobs, json.Results[i].Logprobs);
            RlScoreEndpointTests.AssertClose(expected[i].Logprobs, msgpack.Results[i].Logprobs);
        }
        Assert.NotEqual(policy[0].Logprobs[0], json.Results[0].Logprobs[0], 1e-3f);
        Assert.Empty(json.Results[1].Logprobs);
    }

    [Fact]
    public async Task RewardsAreTheRewardModelsScoresOfPromptAndCompletion()
    {
        var request = new Dictionary<string, object> { ["sequences"] = RlScoreEndpointTests.Sequences(Prompts, Completions) };
        var expected = await WithEngine(Reward, e => Task.WhenAll(Prompts.Select((p, i) => e.RewardAsync([.. p, .. Completions[i]]))));

        var json = (await _client.PostOkAsync("/rl/reward", request)).Deserialize<RlRewardResponse>(RlScoreEndpointTests.Snake)!;
        var msgpack = await RlScoreEndpointTests.PostMessagePackAsync<RlRewardResponse>(_client, "/rl/reward", request);

        foreach (var answer in new[] { json, msgpack })
        {
            Assert.Equal(Prompts.Length, answer.Results.Length);
            for (int i = 0; i < Prompts.Length; i++)
            {
                Assert.Equal(expected[i].Reward, answer.Results[i].Reward, 1e-5f);
                Assert.Equal(0, answer.Results[i].WeightVersion);
            }
        }
    }

    [Theory]
    [InlineData("""{"sequences": [{"prompt_ids": [1], "completion_ids": [512]}]}""", "sequences[0].completion_ids[0]")]
    [InlineData("""{"sequences": [{"prompt_ids": [], "completion_ids": []}]}""", "sequences[0]")]
    [InlineData("""{"sequences": [{"completion_ids": [1]}]}""", "sequences[0].prompt_ids")]
    public async Task BadRewardInputIsA400NamingTheField(string body, string param)
    {
        using var response = await _client.PostAsync("/rl/reward", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var error = await OpenAiError.AssertAsync(response, 400);
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task AModelWithTheWrongHeadForItsPlaceIsRefusedAtStart()
    {
        var models = new ServedModels(ModelLoader.Load(ServerFixture.ModelDirectory)) { Reward = ModelLoader.Load(Reference) };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => RolloutServer.StartAsync(models, Options, new ServerOptions { Port = 0 }, configureLogging: _ => { }));
        Assert.Contains("sequence-classification", error.Message);
    }
}
