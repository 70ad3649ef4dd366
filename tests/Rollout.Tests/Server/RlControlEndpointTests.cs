using System.Net;
using System.Text.Json;

namespace Rollout.Tests.Server;

/// <summary>
/// What a training loop does between rollouts: /rl/pause in its three modes, /rl/resume, /rl/abort by
/// request id, and the readiness and weight-version probes around them.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class RlControlEndpointTests(ServerFixture fixture) : IAsyncLifetime
{
    const int LongRun = 480;

    public Task InitializeAsync() => Task.CompletedTask;

    // Whatever a test did, the next one (and the next class) finds the engine running.
    public Task DisposeAsync() => fixture.Admin.PostOkAsync("/rl/resume", new { });

    /// <summary>A streamed completion long enough (about half a second here) to still run when the test acts on it.</summary>
    Task<SseStream> StartLong(string? requestId = null, int maxTokens = LongRun) =>
        SseStream.StartAsync(fixture.User, "/v1/completions",
            new { prompt = "Once upon a time", max_tokens = maxTokens, ignore_eos = true, stream = true, return_token_ids = true }, requestId);

    Task<JsonElement> Pause(string mode) => fixture.Admin.PostOkAsync("/rl/pause", new { mode });

    Task<JsonElement> Resume() => fixture.Admin.PostOkAsync("/rl/resume", new { });

    async Task<HttpStatusCode> Ready()
    {
        using var response = await fixture.Anonymous.GetAsync("/ready");
        return response.StatusCode;
    }

    [Fact]
    public async Task KeepHoldsARunningRequestWithoutStepsUntilResume()
    {
        using var stream = await StartLong();
        await stream.NextAsync();

        var paused = await Pause("keep");
        var atPause = await fixture.User.MetricsAsync();
        await Task.Delay(300);
        var later = await fixture.User.MetricsAsync();

        Assert.Equal("keep", paused.GetProperty("mode").GetString());
        Assert.True(paused.GetProperty("paused").GetBoolean());
        Assert.True(atPause.Value("rollout_requests_running") == 1, "the request finished before the pause: nothing was held");
        Assert.Equal(atPause.Value("rollout_generation_tokens_total"), later.Value("rollout_generation_tokens_total"));
        Assert.Equal(atPause.Value("rollout_engine_steps_total"), later.Value("rollout_engine_steps_total"));
        Assert.Equal(1, later.Value("rollout_requests_running"));

        await Resume();
        await stream.ReadToEndAsync();
        Assert.Equal(["length"], stream.FinishReasons());
        Assert.Equal(LongRun, stream.TokenIds().Count);
    }

    [Fact]
    public async Task AbortEndsARunningRequestAsAborted()
    {
        using var stream = await StartLong();
        await stream.NextAsync();

        var paused = await Pause("abort");
        await stream.ReadToEndAsync();

        Assert.Equal("abort", paused.GetProperty("mode").GetString());
        Assert.Equal(["abort"], stream.FinishReasons());
        Assert.InRange(stream.TokenIds().Count, 1, LongRun - 1);
        await fixture.User.MetricsWhenIdleAsync();
    }

    [Fact]
    public async Task WaitReturnsOnlyOnceRunningRequestsFinished()
    {
        using var stream = await StartLong(maxTokens: 120);
        await stream.NextAsync();

        var paused = await Pause("wait");

        Assert.Equal("wait", paused.GetProperty("mode").GetString());
        // Had the pause come back early, the engine would hold the request half done and never go idle.
        await fixture.User.MetricsWhenIdleAsync(TimeSpan.FromSeconds(10));
        await stream.ReadToEndAsync();
        Assert.Equal(["length"], stream.FinishReasons());
        Assert.Equal(120, stream.TokenIds().Count);
    }

    [Fact]
    public async Task PauseAndResumeAreIdempotentAndReadinessFollows()
    {
        using (var health = await fixture.Anonymous.GetAsync("/health")) Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await Ready());

        await Pause("keep");
        await Pause("keep");
        using (var ready = await fixture.Anonymous.GetAsync("/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.False(JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("ready").GetBoolean());
        }
        using (var health = await fixture.Anonymous.GetAsync("/health")) Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        Assert.False((await Resume()).GetProperty("paused").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, await Ready());
        await Resume();
        Assert.Equal(HttpStatusCode.OK, await Ready());
    }

    [Fact]
    public async Task ReadinessIsBackAsSoonAsResumeAnswers()
    {
        for (int i = 0; i < 50; i++)
        {
            await Pause("keep");
            await Resume();
            Assert.Equal(HttpStatusCode.OK, await Ready());
        }
    }

    [Fact]
    public async Task ARequestSentWhilePausedRunsAfterResume()
    {
        await Pause("keep");
        var held = fixture.User.PostOkAsync("/v1/completions", new { prompt = "hello", max_tokens = 3, ignore_eos = true });
        await Task.Delay(200);
        Assert.False(held.IsCompleted, "a request was served while the engine was paused");

        await Resume();

        var response = await held.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("length", response.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task AbortByRequestIdEndsThatRequest()
    {
        using var target = await StartLong("abort-me");
        await target.NextAsync();

        var aborted = await fixture.Admin.PostOkAsync("/rl/abort", new { request_ids = new[] { "abort-me", "no-such-request" } });
        await target.ReadToEndAsync();

        Assert.Equal(1, aborted.GetProperty("aborted").GetInt32());
        Assert.Equal(["abort"], target.FinishReasons());
        Assert.InRange(target.TokenIds().Count, 1, LongRun - 1);
        await fixture.User.MetricsWhenIdleAsync();
    }

    [Fact]
    public async Task AbortAllEndsEveryRunningRequest()
    {
        using var first = await StartLong();
        using var second = await StartLong();
        await first.NextAsync();
        await second.NextAsync();

        var aborted = await fixture.Admin.PostOkAsync("/rl/abort", new { all = true });
        await first.ReadToEndAsync();
        await second.ReadToEndAsync();

        Assert.Equal(2, aborted.GetProperty("aborted").GetInt32());
        Assert.Equal(["abort"], first.FinishReasons());
        Assert.Equal(["abort"], second.FinishReasons());
    }

    [Fact]
    public async Task WeightsVersionIsZeroAsLoaded()
    {
        var version = await fixture.User.GetOkAsync("/rl/weights/version");

        Assert.Equal(0, version.GetProperty("version").GetInt64());
        Assert.Equal(0, (await fixture.User.MetricsAsync()).Value("rollout_weight_version"));
    }
}
