using System.Text.Json;

namespace Rollout.Tests.Server;

/// <summary>
/// <c>/v1/completions</c> over raw HTTP: the official .NET client has no convenience methods for legacy
/// completions (its LegacyCompletionClient exposes constructors only) and no <c>n</c>, so every prompt
/// form, batches, n, streaming with usage, logprobs and vLLM's <c>return_token_ids</c> are sent by hand.
/// </summary>
[Collection(ServerCollection.Name)]
public class CompletionsEndpointTests(ServerFixture fixture)
{
    const string Prompt = "Once upon a time";

    Task<JsonElement> Complete(object body) => fixture.User.PostOkAsync("/v1/completions", body);

    async Task<int[]> Tokenize(string text) =>
        (await fixture.User.PostOkAsync("/tokenize", new { prompt = text })).GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();

    static JsonElement[] Choices(JsonElement response) => response.GetProperty("choices").EnumerateArray().ToArray();

    static int[] Ints(JsonElement array) => array.EnumerateArray().Select(t => t.GetInt32()).ToArray();

    [Fact]
    public async Task ATextPromptGetsATextCompletion()
    {
        var response = await Complete(new { model = fixture.Model, prompt = Prompt, max_tokens = 8, temperature = 0 });

        Assert.Equal("text_completion", response.GetProperty("object").GetString());
        Assert.Equal(fixture.Model, response.GetProperty("model").GetString());
        Assert.StartsWith("cmpl-", response.GetProperty("id").GetString());
        var choice = Assert.Single(Choices(response));
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Contains(choice.GetProperty("finish_reason").GetString(), new[] { "stop", "length" });
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        var usage = response.GetProperty("usage");
        Assert.Equal((await Tokenize(Prompt)).Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.InRange(usage.GetProperty("completion_tokens").GetInt32(), 1, 8);
    }

    [Fact]
    public async Task TokenIdsPromptAnswersLikeItsText()
    {
        var byText = await Complete(new { prompt = Prompt, max_tokens = 10, temperature = 0 });
        var byIds = await Complete(new { prompt = await Tokenize(Prompt), max_tokens = 10, temperature = 0 });

        Assert.Equal(Choices(byText)[0].GetProperty("text").GetString(), Choices(byIds)[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task ABatchOfPromptsGetsOneChoiceEachInPromptOrder()
    {
        string[] prompts = ["Once upon a time", "The cat sat"];
        var alone = await Task.WhenAll(prompts.Select(p => Complete(new { prompt = p, max_tokens = 6, temperature = 0 })));
        int[] mixedIds = await Tokenize(prompts[1]);

        var batch = await Complete(new { prompt = new object[] { prompts[0], mixedIds }, max_tokens = 6, temperature = 0 });

        var choices = Choices(batch);
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(Choices(alone[i])[0].GetProperty("text").GetString(), choices[i].GetProperty("text").GetString());
    }

    [Fact]
    public async Task NGivesNCompletionsOfEachPrompt()
    {
        var response = await Complete(new
        {
            prompt = new[] { "Once upon a time", "The cat sat" }, n = 3, max_tokens = 5, temperature = 1, seed = 7,
            ignore_eos = true, return_token_ids = true,
        });

        var choices = Choices(response);
        Assert.Equal(Enumerable.Range(0, 6), choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(choices, c => Assert.Equal(5, c.GetProperty("token_ids").GetArrayLength()));
        Assert.Equal(30, response.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        // Seeded samples of one prompt still differ from each other: each completion draws its own stream.
        Assert.True(choices.Take(3).Select(c => string.Join(",", Ints(c.GetProperty("token_ids")))).Distinct().Count() > 1);
    }

    [Fact]
    public async Task StreamingSendsChunksThenUsageThenDone()
    {
        var whole = await Complete(new { prompt = Prompt, max_tokens = 12, temperature = 0 });

        using var stream = await SseStream.StartAsync(fixture.User, "/v1/completions",
            new { prompt = Prompt, max_tokens = 12, temperature = 0, stream = true, stream_options = new { include_usage = true } });
        var events = await stream.ReadToEndAsync();

        var wholeChoice = Choices(whole)[0];
        Assert.Equal(wholeChoice.GetProperty("text").GetString(), stream.Text());
        Assert.Equal([wholeChoice.GetProperty("finish_reason").GetString()!], stream.FinishReasons());
        Assert.All(events.SkipLast(1), e => Assert.False(e.TryGetProperty("usage", out _)));
        var last = events[^1];
        Assert.Empty(last.GetProperty("choices").EnumerateArray());
        Assert.Equal(whole.GetProperty("usage").GetRawText(), last.GetProperty("usage").GetRawText());
        Assert.All(events, e => Assert.Equal(events[0].GetProperty("id").GetString(), e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task StreamingWithoutIncludeUsageSendsNoUsage()
    {
        using var stream = await SseStream.StartAsync(fixture.User, "/v1/completions", new { prompt = Prompt, max_tokens = 4, stream = true });
        var events = await stream.ReadToEndAsync();

        Assert.All(events, e => Assert.False(e.TryGetProperty("usage", out _)));
        Assert.Single(stream.FinishReasons());
    }

    [Fact]
    public async Task LogprobsListEveryTokenWithItsAlternativesAndOffsets()
    {
        var response = await Complete(new { prompt = Prompt, max_tokens = 8, temperature = 0, logprobs = 2, return_token_ids = true });

        var choice = Choices(response)[0];
        var logprobs = choice.GetProperty("logprobs");
        int count = choice.GetProperty("token_ids").GetArrayLength();
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var values = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var top = logprobs.GetProperty("top_logprobs").EnumerateArray().ToArray();
        var offsets = Ints(logprobs.GetProperty("text_offset"));
        Assert.Equal(count, tokens.Length);
        Assert.Equal(count, values.Length);
        Assert.Equal(count, top.Length);
        Assert.Equal(count, offsets.Length);
        Assert.All(values, v => Assert.True(v <= 0));
        for (int i = 0; i < count; i++)
        {
            var alternatives = top[i].EnumerateObject().Select(p => p.Value.GetSingle()).ToArray();
            Assert.InRange(alternatives.Length, 1, 2);
            // Greedy: the chosen token is the best alternative.
            Assert.Equal(alternatives.Max(), values[i], 1e-5f);
            Assert.Equal(i == 0 ? 0 : offsets[i - 1] + tokens[i - 1].Length, offsets[i]);
        }
    }

    [Fact]
    public async Task ReturnTokenIdsGivesThePromptAndCompletionTokens()
    {
        int[] prompt = await Tokenize(Prompt);

        var response = await Complete(new { prompt = Prompt, max_tokens = 7, ignore_eos = true, return_token_ids = true });

        var choice = Choices(response)[0];
        Assert.Equal(prompt, Ints(choice.GetProperty("prompt_token_ids")));
        Assert.Equal(7, choice.GetProperty("token_ids").GetArrayLength());
        Assert.All(choice.GetProperty("token_ids").EnumerateArray(), t => Assert.InRange(t.GetInt32(), 0, 511));
        Assert.Equal([0L, 0, 0, 0, 0, 0, 0], choice.GetProperty("weight_versions").EnumerateArray().Select(v => v.GetInt64()));
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(7, response.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamedTokenIdsAddUpToTheWholeCompletion()
    {
        var whole = Choices(await Complete(new { prompt = Prompt, max_tokens = 9, temperature = 0, ignore_eos = true, return_token_ids = true }))[0];

        using var stream = await SseStream.StartAsync(fixture.User, "/v1/completions",
            new { prompt = Prompt, max_tokens = 9, temperature = 0, ignore_eos = true, return_token_ids = true, stream = true });
        await stream.ReadToEndAsync();

        Assert.Equal(Ints(whole.GetProperty("token_ids")), stream.TokenIds());
        Assert.Single(stream.Choices, c => c.TryGetProperty("prompt_token_ids", out _));
    }

    [Fact]
    public async Task TheClientsRequestIdNamesTheAnswer()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = ServerHttp.Json(new { prompt = Prompt, max_tokens = 2 }) };
        request.Headers.Add("X-Request-Id", "trace-42");

        using var response = await fixture.User.SendAsync(request);

        Assert.Equal("trace-42", Assert.Single(response.Headers.GetValues("X-Request-Id")));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("cmpl-trace-42", body.GetProperty("id").GetString());
    }

    [Fact]
    public async Task ModelsListsTheServedModel()
    {
        var models = await fixture.User.GetOkAsync("/v1/models");

        var model = Assert.Single(models.GetProperty("data").EnumerateArray());
        Assert.Equal(fixture.Model, model.GetProperty("id").GetString());
        Assert.Equal(512, model.GetProperty("max_model_len").GetInt32());
    }
}
