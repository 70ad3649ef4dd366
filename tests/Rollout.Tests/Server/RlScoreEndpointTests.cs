using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using MessagePack;
using MessagePack.Resolvers;
using Rollout.Engine.Sampling;
using Rollout.Server.Rl;

namespace Rollout.Tests.Server;

/// <summary><c>/rl/score</c> over the shared server's policy: the engine's scores, in JSON or MessagePack, and a 400 naming the field for each bad input.</summary>
[Collection(ServerCollection.Name)]
public class RlScoreEndpointTests(ServerFixture fixture)
{
    const string MessagePackType = "application/x-msgpack";
    static readonly int[][] Prompts = [[17, 300, 42, 5, 99, 123, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], [256, 3]];
    static readonly int[][] Completions = [[5, 6, 7, 300, 2], [44]];

    internal static readonly JsonSerializerOptions Snake = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    internal static object[] Sequences(int[][] prompts, int[][] completions) =>
        prompts.Select((p, i) => new Dictionary<string, object> { ["prompt_ids"] = p, ["completion_ids"] = completions[i] }).ToArray<object>();

    internal static async Task<T> PostMessagePackAsync<T>(HttpClient client, string path, Dictionary<string, object> request)
    {
        var content = new ByteArrayContent(MessagePackSerializer.Serialize(request, ContractlessStandardResolver.Options));
        content.Headers.ContentType = new MediaTypeHeaderValue(MessagePackType);
        using var response = await client.PostAsync(path, content);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal(MessagePackType, response.Content.Headers.ContentType?.MediaType);
        return MessagePackSerializer.Deserialize<T>(await response.Content.ReadAsByteArrayAsync());
    }

    internal static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        // A second run may reuse the first's cached prompt KV, which rounds alike but not bit for bit.
        for (int i = 0; i < expected.Count; i++)
        {
            if (float.IsNegativeInfinity(expected[i])) Assert.True(float.IsNegativeInfinity(actual[i]), $"token {i}: {actual[i]}");
            else Assert.Equal(expected[i], actual[i], 1e-5f);
        }
    }

    [Fact]
    public async Task JsonAndMessagePackAnswerTheEnginesScores()
    {
        var request = new Dictionary<string, object> { ["sequences"] = Sequences(Prompts, Completions) };
        var engine = fixture.Server.Engine;
        var expected = await Task.WhenAll(Prompts.Select((p, i) => engine.ScoreAsync(p, Completions[i])));

        var json = (await fixture.User.PostOkAsync("/rl/score", request)).Deserialize<RlScoreResponse>(Snake)!;
        var msgpack = await PostMessagePackAsync<RlScoreResponse>(fixture.User, "/rl/score", request);

        foreach (var answer in new[] { json, msgpack })
        {
            Assert.Equal(Prompts.Length, answer.Results.Length);
            for (int i = 0; i < Prompts.Length; i++)
            {
                AssertClose(expected[i].Logprobs, answer.Results[i].Logprobs);
                Assert.Equal(expected[i].WeightVersion, answer.Results[i].WeightVersion);
            }
        }
    }

    [Fact]
    public async Task ProcessedScoresComeWithTheirFilteredTokensAsNegativeInfinity()
    {
        int[] prompt = [1, 2, 3, 4], completion = [.. Enumerable.Range(100, 12)];
        var processing = new SamplingParams { Temperature = 0.5f, TopK = 3 };
        var expected = await fixture.Server.Engine.ScoreAsync(prompt, completion, LogprobsMode.Processed, processing);
        Assert.Contains(expected.Logprobs, float.IsNegativeInfinity);
        var request = new Dictionary<string, object>
        {
            ["sequences"] = Sequences([prompt], [completion]),
            ["model"] = "policy",
            ["logprobs_mode"] = "processed",
            ["sampling"] = new Dictionary<string, object> { ["temperature"] = 0.5, ["top_k"] = 3 },
        };

        var json = (await fixture.User.PostOkAsync("/rl/score", request)).Deserialize<RlScoreResponse>(Snake)!;
        var msgpack = await PostMessagePackAsync<RlScoreResponse>(fixture.User, "/rl/score", request);

        AssertClose(expected.Logprobs, json.Results[0].Logprobs);
        AssertClose(expected.Logprobs, msgpack.Results[0].Logprobs);
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { """{}""", "sequences" },
        { """{"sequences": {"prompt_ids": [1]}}""", "sequences" },
        { """{"sequences": []}""", "sequences" },
        { """{"sequences": [[1, 2]]}""", "sequences[0]" },
        { """{"sequences": [{"prompt_ids": [1]}]}""", "sequences[0].completion_ids" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}, {"prompt_ids": [1], "completion_ids": [2, 512]}]}""", "sequences[1].completion_ids[1]" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2.5]}]}""", "sequences[0].completion_ids[0]" },
        { """{"sequences": [{"prompt_ids": [], "completion_ids": [2]}]}""", "sequences[0].prompt_ids" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}, {"prompt_ids": [1], "completion_ids": [2]}, {"prompt_ids": [1], "completion_ids": [""" + string.Join(", ", Enumerable.Repeat(3, 600)) + """]}]}""", "sequences[2].completion_ids" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}], "model": "reference"}""", "model" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}], "model": "critic"}""", "model" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}], "logprobs_mode": "softmax"}""", "logprobs_mode" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}], "logprobs_mode": "processed", "sampling": {"top_p": 0}}""", "sampling.top_p" },
        { """{"sequences": [{"prompt_ids": [1], "completion_ids": [2]}], "sampling": {"logit_bias": {"9999": 1}}}""", "sampling.logit_bias" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadInputIsA400NamingTheField(string body, string param)
    {
        var steps = fixture.Server.Engine.Metrics.Steps;
        using var response = await fixture.User.PostAsync("/rl/score", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var error = await OpenAiError.AssertAsync(response, 400);
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(steps, fixture.Server.Engine.Metrics.Steps);
    }

    [Fact]
    public async Task TheApiKeyIsRequiredAndTheRewardEndpointNeedsARewardModel()
    {
        using var anonymous = await fixture.Anonymous.PostAsync("/rl/score", ServerHttp.Json(new { sequences = Sequences(Prompts, Completions) }));
        await OpenAiError.AssertAsync(anonymous, 401);
        using var reward = await fixture.User.PostAsync("/rl/reward", ServerHttp.Json(new { sequences = Sequences(Prompts, Completions) }));
        Assert.Contains("--reward-model", (await OpenAiError.AssertAsync(reward, 400)).GetProperty("message").GetString());
    }
}
