using System.Net.Http.Headers;

namespace Rollout.Tests.Server;

/// <summary>
/// Clients that go away: 300 concurrent streams (completions and chat), a tenth of which leave after
/// their first chunk, all end and every KV block goes back to the pool.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ClientDisconnectTests(ServerFixture fixture) : IDisposable
{
    // Without a drain, disposing an unfinished response closes the connection at once, as a crashed client would.
    readonly HttpClient _leaving = new(new SocketsHttpHandler { MaxResponseDrainSize = 0 })
    {
        BaseAddress = fixture.Server.Address,
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", ServerFixture.ApiKey) },
    };

    public void Dispose() => _leaving.Dispose();

    [Fact]
    public async Task ThreeHundredStreamsEndAndLeaversGiveTheirKvBack()
    {
        const int streams = 300;
        var outcomes = await Task.WhenAll(Enumerable.Range(0, streams).Select(async i =>
        {
            bool chat = i % 2 == 1;
            bool leaves = i % 10 == 0;
            // Leavers ask for far more than they read, so only an abort frees their blocks soon.
            int maxTokens = leaves ? 400 : 8 + i % 9;
            object body = chat
                ? new { messages = new[] { new { role = "user", content = $"Story {i}, please." } }, max_tokens = maxTokens, ignore_eos = leaves, stream = true }
                : new { prompt = $"Story number {i}:", max_tokens = maxTokens, ignore_eos = leaves, stream = true };
            using var stream = await SseStream.StartAsync(leaves ? _leaving : fixture.User, chat ? "/v1/chat/completions" : "/v1/completions", body);
            if (leaves)
            {
                Assert.NotNull(await stream.NextAsync());
                return (Left: true, FinishReasons: new List<string>());
            }
            await stream.ReadToEndAsync();
            return (Left: false, FinishReasons: stream.FinishReasons());
        }));

        Assert.Equal(30, outcomes.Count(o => o.Left));
        Assert.All(outcomes.Where(o => !o.Left), o => Assert.Contains(Assert.Single(o.FinishReasons), new[] { "stop", "length" }));
        await fixture.User.MetricsWhenIdleAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AClientThatLeavesWhilePausedIsAbortedWithoutAnotherStep()
    {
        using var stream = await SseStream.StartAsync(_leaving, "/v1/completions", new { prompt = "Once upon a time", max_tokens = 480, ignore_eos = true, stream = true });
        try
        {
            await stream.NextAsync();
            await fixture.Admin.PostOkAsync("/rl/pause", new { mode = "keep" });
            var atPause = await fixture.User.MetricsAsync();
            Assert.True(atPause.Value("rollout_requests_running") == 1, "the request finished before the pause");

            stream.Dispose(); // the client leaves

            // A paused engine runs no step, so only the abort that the disconnect triggers can free the blocks.
            var idle = await fixture.User.MetricsWhenIdleAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(atPause.Value("rollout_engine_steps_total"), idle.Value("rollout_engine_steps_total"));
        }
        finally
        {
            await fixture.Admin.PostOkAsync("/rl/resume", new { });
        }
    }
}
