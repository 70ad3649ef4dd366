using System.Diagnostics;
using System.Net.Http.Json;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server;

namespace Rollout.Tests.Server;

/// <summary>A server asked to stop while a request runs: it ends the request within its deadline and stops, never hanging on it.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task Stopping_aborts_a_request_still_running_at_the_deadline_and_returns()
    {
        var deadline = TimeSpan.FromSeconds(1);
        var server = await RolloutServer.StartAsync(ModelLoader.Load(ServerFixture.ModelDirectory), new EngineOptions { KvCacheBytes = 8 << 20 },
            new ServerOptions { Port = 0, ShutdownDeadline = deadline }, configureLogging: _ => { });
        using var http = new HttpClient { BaseAddress = server.Address };
        // Held by a pause, the request cannot finish on its own before the server stops.
        await server.Engine.PauseAsync(PauseMode.Keep);
        var request = http.PostAsJsonAsync("/rl/generate", new { prompts = new[] { new[] { 1, 2, 3 } }, sampling = new { max_tokens = 400, ignore_eos = true } });
        for (int i = 0; i < 500 && server.Engine.Metrics.Waiting == 0; i++) await Task.Delay(10);
        Assert.Equal(1, server.Engine.Metrics.Waiting);

        var watch = Stopwatch.StartNew();
        await server.DisposeAsync();

        Assert.True(watch.Elapsed < deadline + TimeSpan.FromSeconds(8), $"stopping took {watch.Elapsed.TotalSeconds:F1} s with a {deadline.TotalSeconds} s deadline");
        // The client got the aborted completion, or its connection was closed: either way it is not left waiting.
        var finished = await Task.WhenAny(request, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.Same(request, finished);
        HttpResponseMessage? response = null;
        try
        {
            response = await request;
        }
        catch (HttpRequestException)
        {
        }
        if (response is { IsSuccessStatusCode: true })
            Assert.Contains("\"finish_reason\":\"abort\"", await response.Content.ReadAsStringAsync());
    }
}
