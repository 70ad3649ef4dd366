using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MessagePack;
using MessagePack.Resolvers;
using Rollout.Server.Rl;

namespace Rollout.Tests.Server;

/// <summary>
/// <c>/rl/generate</c> answers the same tokens, logprobs, weight versions and sampling supports whether the
/// request and answer travel as JSON or MessagePack, whole or streamed.
/// </summary>
[Collection(ServerCollection.Name)]
public class RlGenerateEndpointTests(ServerFixture fixture)
{
    const string MessagePackType = "application/x-msgpack";
    static readonly int[][] Prompts = [[17, 300, 42, 5, 99, 123], [256, 3, 8]];
    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <param name="stream">Whether completions come one by one.</param>
    /// <param name="support">The <c>return_support</c> asked for, with a top-k that keeps the supports short; none when null.</param>
    static Dictionary<string, object> Request(bool stream = false, string? support = null)
    {
        var sampling = new Dictionary<string, object> { ["temperature"] = 1.0, ["seed"] = 5, ["logprobs"] = 2, ["max_tokens"] = 10, ["n"] = 2, ["ignore_eos"] = true };
        if (support is not null)
        {
            sampling["return_support"] = support;
            sampling["top_k"] = 20;
        }
        return new() { ["prompts"] = Prompts, ["sampling"] = sampling, ["stream"] = stream };
    }

    async Task<RlGenerateResponse> Json(string? support = null)
    {
        var body = await fixture.User.PostOkAsync("/rl/generate", Request(support: support));
        return body.Deserialize<RlGenerateResponse>(Snake)!;
    }

    async Task<HttpResponseMessage> PostMessagePack(Dictionary<string, object> request)
    {
        var content = new ByteArrayContent(MessagePackSerializer.Serialize(request, ContractlessStandardResolver.Options));
        content.Headers.ContentType = new MediaTypeHeaderValue(MessagePackType);
        var response = await fixture.User.PostAsync("/rl/generate", content);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal(MessagePackType, response.Content.Headers.ContentType?.MediaType);
        return response;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("size")]
    [InlineData("ids")]
    public async Task MessagePackAnswersWhatJsonAnswers(string? support)
    {
        var json = await Json(support);

        using var response = await PostMessagePack(Request(support: support));
        var msgpack = MessagePackSerializer.Deserialize<RlGenerateResponse>(await response.Content.ReadAsByteArrayAsync());

        AssertSame(json, msgpack);
        Assert.All(json.Results.SelectMany(r => r.Completions), c =>
        {
            Assert.Equal(10, c.TokenIds.Length);
            Assert.Equal(10, c.Logprobs!.Length);
            Assert.All(c.TopLogprobs!, top => Assert.Equal(2, top.Length));
            Assert.Equal(new long[10], c.WeightVersions);
            Assert.Equal(support is null ? null : Enumerable.Repeat(20, 10), c.SupportSizes);
            if (support == "ids") Assert.All(c.TokenIds.Zip(c.SupportIds!), t => Assert.Contains(t.First, t.Second));
            else Assert.Null(c.SupportIds);
        });
    }

    [Theory]
    [InlineData("\"all\"")]
    [InlineData("\"none\"")]
    [InlineData("1")]
    public async Task AnUnknownReturnSupportIsA400NamingIt(string value)
    {
        using var response = await fixture.User.PostAsync("/rl/generate",
            new StringContent($$$"""{"prompts": [[1, 2]], "sampling": {"return_support": {{{value}}}}}""", System.Text.Encoding.UTF8, "application/json"));
        var error = await OpenAiError.AssertAsync(response, 400);
        Assert.Equal("sampling.return_support", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task EndpointsThatDoNotAnswerTheSupportRefuseToBeAskedForIt()
    {
        using var response = await fixture.User.PostAsync("/v1/completions", ServerHttp.Json(new { prompt = "hi", max_tokens = 2, return_support = "size" }));
        var error = await OpenAiError.AssertAsync(response, 400);
        Assert.Equal("return_support", error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("ids")]
    public async Task StreamedJsonLinesAreTheWholeAnswersCompletions(string? support)
    {
        var whole = await Json(support);

        using var response = await fixture.User.PostAsync("/rl/generate", ServerHttp.Json(Request(stream: true, support)));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<RlStreamedCompletion>(l, Snake)!);

        AssertSame(whole, Regroup(lines));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("ids")]
    public async Task StreamedMessagePackMapsAreTheWholeAnswersCompletions(string? support)
    {
        var whole = await Json(support);

        using var response = await PostMessagePack(Request(stream: true, support));
        using var reader = new MessagePackStreamReader(await response.Content.ReadAsStreamAsync());
        var streamed = new List<RlStreamedCompletion>();
        while (await reader.ReadAsync(CancellationToken.None) is { } map)
            streamed.Add(MessagePackSerializer.Deserialize<RlStreamedCompletion>(map));

        AssertSame(whole, Regroup(streamed));
    }

    /// <summary>Streamed completions come as they finish; put them back in prompt and index order.</summary>
    static RlGenerateResponse Regroup(IEnumerable<RlStreamedCompletion> streamed)
    {
        var list = streamed.ToList();
        Assert.Equal(list.Count, list.Select(s => (s.PromptIndex, s.Completion.Index)).Distinct().Count());
        return new RlGenerateResponse
        {
            Results = Enumerable.Range(0, Prompts.Length).Select(p => new RlResult
            {
                Completions = list.Where(s => s.PromptIndex == p).Select(s => s.Completion).OrderBy(c => c.Index).ToArray(),
            }).ToArray(),
        };
    }

    static void AssertSame(RlGenerateResponse expected, RlGenerateResponse actual)
    {
        Assert.Equal(expected.Results.Length, actual.Results.Length);
        for (int p = 0; p < expected.Results.Length; p++)
        {
            Assert.Equal(expected.Results[p].Completions.Length, actual.Results[p].Completions.Length);
            for (int i = 0; i < expected.Results[p].Completions.Length; i++)
            {
                var e = expected.Results[p].Completions[i];
                var a = actual.Results[p].Completions[i];
                Assert.Equal(e.Index, a.Index);
                Assert.Equal(e.TokenIds, a.TokenIds);
                Assert.Equal(e.WeightVersions, a.WeightVersions);
                Assert.Equal(e.FinishReason, a.FinishReason);
                // A second run may reuse the first's cached prompt KV, which rounds alike but not bit for bit.
                Assert.Equal(e.Logprobs!.Length, a.Logprobs!.Length);
                for (int t = 0; t < e.Logprobs.Length; t++) Assert.Equal(e.Logprobs[t], a.Logprobs[t], 1e-4f);
                Assert.Equal(e.TopLogprobs!.Select(top => top.Select(x => x.TokenId)), a.TopLogprobs!.Select(top => top.Select(x => x.TokenId)));
                Assert.Equal(e.SupportSizes, a.SupportSizes);
                Assert.Equal(e.SupportIds, a.SupportIds);
            }
        }
    }
}
