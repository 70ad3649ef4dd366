using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace Rollout.Tests.Server;

/// <summary>
/// The official OpenAI .NET client (2.15.0) talks to the server unchanged: whole and streamed chat,
/// logprobs, seeds, stop strings and errors. What it cannot send (legacy completions, n) is covered
/// with raw HTTP in <see cref="CompletionsEndpointTests"/>.
/// </summary>
[Collection(ServerCollection.Name)]
public class OpenAiClientTests(ServerFixture fixture)
{
    static readonly ChatMessage[] Story = [new SystemChatMessage("You tell short stories."), new UserChatMessage("Tell me a story about a cat.")];

    ChatClient Chat(string apiKey = ServerFixture.ApiKey, string? model = null) =>
        new OpenAIClient(new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.Address, "v1") })
            .GetChatClient(model ?? fixture.Model);

    static ChatCompletionOptions Greedy(int maxTokens = 24) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    async Task<int> PromptTokens()
    {
        var tokenized = await fixture.User.PostOkAsync("/tokenize", new
        {
            messages = new object[] { new { role = "system", content = "You tell short stories." }, new { role = "user", content = "Tell me a story about a cat." } },
        });
        return tokenized.GetProperty("count").GetInt32();
    }

    [Fact]
    public async Task ChatCompletionAnswersAsTheAssistant()
    {
        ChatCompletion answer = await Chat().CompleteChatAsync(Story, Greedy());

        Assert.Equal(ChatMessageRole.Assistant, answer.Role);
        Assert.Equal(fixture.Model, answer.Model);
        Assert.Contains(answer.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        Assert.InRange(answer.Usage.OutputTokenCount, 1, 24);
        Assert.Equal(await PromptTokens(), answer.Usage.InputTokenCount);
        Assert.Equal(answer.Usage.InputTokenCount + answer.Usage.OutputTokenCount, answer.Usage.TotalTokenCount);
        Assert.Single(answer.Content);
    }

    [Fact]
    public async Task StreamedChatAddsUpToTheWholeAnswer()
    {
        ChatCompletion whole = await Chat().CompleteChatAsync(Story, Greedy());

        var text = new StringBuilder();
        var finishReasons = new List<ChatFinishReason>();
        ChatTokenUsage? usage = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync(Story, Greedy()))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            if (update.FinishReason is { } reason) finishReasons.Add(reason);
            usage ??= update.Usage;
        }

        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal([whole.FinishReason], finishReasons);
        Assert.NotNull(usage);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
    }

    [Fact]
    public async Task LogprobsCoverEveryTokenWithRankedAlternatives()
    {
        var options = Greedy();
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;

        ChatCompletion answer = await Chat().CompleteChatAsync(Story, options);

        Assert.Equal(answer.Usage.OutputTokenCount, answer.ContentTokenLogProbabilities.Count);
        foreach (var token in answer.ContentTokenLogProbabilities)
        {
            Assert.True(token.LogProbability <= 0, $"logprob {token.LogProbability} of '{token.Token}'");
            Assert.Equal(3, token.TopLogProbabilities.Count);
            var ranked = token.TopLogProbabilities.Select(t => t.LogProbability).ToList();
            Assert.Equal(ranked.OrderByDescending(l => l), ranked);
            // Greedy picks the most likely token, so its logprob is the best alternative's.
            Assert.Equal(ranked[0], token.LogProbability, 1e-5f);
            Assert.Equal(Encoding.UTF8.GetBytes(token.Token), token.Utf8Bytes?.ToArray());
        }
    }

    [Fact]
    public async Task ASeedReproducesASampledAnswer()
    {
        static ChatCompletionOptions Sampled(long seed)
        {
#pragma warning disable OPENAI001 // Seed is marked experimental in the client; the server honours it.
            return new ChatCompletionOptions { Temperature = 1, Seed = seed, MaxOutputTokenCount = 32 };
#pragma warning restore OPENAI001
        }

        ChatCompletion first = await Chat().CompleteChatAsync(Story, Sampled(1234));
        ChatCompletion second = await Chat().CompleteChatAsync(Story, Sampled(1234));
        ChatCompletion other = await Chat().CompleteChatAsync(Story, Sampled(4321));

        Assert.Equal(first.Content[0].Text, second.Content[0].Text);
        Assert.Equal(first.Usage.OutputTokenCount, second.Usage.OutputTokenCount);
        // 32 draws at temperature 1 from a random model's flat distribution: another seed cannot plausibly repeat them.
        Assert.NotEqual(first.Content[0].Text, other.Content[0].Text);
    }

    [Fact]
    public async Task AStopStringEndsTheAnswerBeforeIt()
    {
        string free = (await Chat().CompleteChatAsync(Story, Greedy(32))).Value.Content[0].Text;
        Assert.True(free.Length >= 6, $"the greedy answer is too short to pick a stop string from: '{free}'");
        string stop = free.Substring(free.Length / 2, 2);
        int cut = free.IndexOf(stop, StringComparison.Ordinal);

        var options = Greedy(32);
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await Chat().CompleteChatAsync(Story, options);

        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free[..cut], stopped.Content.Count == 0 ? "" : stopped.Content[0].Text);
        Assert.DoesNotContain(stop, stopped.Content.Count == 0 ? "" : stopped.Content[0].Text);
    }

    [Fact]
    public async Task AWrongKeyIsAnAuthenticationError()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Chat(apiKey: "not-the-key").CompleteChatAsync(Story, Greedy()));
        Assert.Equal(401, error.Status);
    }

    [Fact]
    public async Task AnotherModelIsNotFound()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Chat(model: "gpt-4o").CompleteChatAsync(Story, Greedy()));
        Assert.Equal(404, error.Status);
        Assert.Contains("gpt-4o", error.Message);
    }
}
