using Rollout.Client;
using Rollout.Engine.Sampling;
using Rollout.Tests.Server;

namespace Rollout.Tests.Client;

/// <summary>Cancelling a call aborts every request it started, in process and on remote engines, and leaves the engines with nothing running.</summary>
[Collection(RemoteEnginesCollection.Name)]
public sealed class CancellationTests(RemoteEnginesFixture engines)
{
    static readonly IReadOnlyList<int>[] Prompts = [[17, 300, 42], [256, 3, 8], [1, 2, 3]];
    static readonly SamplingParams Long = new() { Seed = 1, MaxTokens = 480, IgnoreEos = true };

    [Fact]
    public async Task Cancelling_a_local_stream_aborts_its_requests()
    {
        await using var client = new LocalRolloutClient(engines.Local);
        using var cancel = new CancellationTokenSource();

        var reading = ReadAllAsync(client, cancel.Token);
        await Eventually.HoldsAsync(() => engines.Local.Metrics.Running > 0, "the requests run");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        Assert.All(client.Router.Outstanding(), load => Assert.Equal(0, load));
        await Eventually.HoldsAsync(() => engines.Local.Metrics is { Running: 0, Waiting: 0, KvCacheUsage: 0 }, "the engine is idle");
    }

    [Fact]
    public async Task Cancelling_a_remote_call_aborts_its_requests_on_every_engine()
    {
        await using var client = engines.Remote();
        using var cancel = new CancellationTokenSource();

        var generating = client.GenerateAsync(Prompts, n: 2, Long, cancel.Token);
        await Eventually.HoldsAsync(() => engines.Servers.All(s => s.Engine.Metrics.Running > 0), "both engines run their groups");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generating);
        Assert.All(client.Router.Outstanding(), load => Assert.Equal(0, load));
        for (int i = 0; i < engines.Servers.Length; i++) await engines.Admin(i).MetricsWhenIdleAsync();
    }

    [Fact]
    public async Task Disposing_a_client_aborts_what_it_runs()
    {
        var client = new LocalRolloutClient(engines.Local);
        var reading = ReadAllAsync(client, CancellationToken.None);
        await Eventually.HoldsAsync(() => engines.Local.Metrics.Running > 0, "the requests run");

        await client.DisposeAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        await Eventually.HoldsAsync(() => engines.Local.Metrics is { Running: 0, Waiting: 0, KvCacheUsage: 0 }, "the engine is idle");
    }

    static async Task<int> ReadAllAsync(IRolloutClient client, CancellationToken cancellationToken)
    {
        int groups = 0;
        await foreach (var _ in client.StreamAsync(Prompts, n: 2, Long, cancellationToken)) groups++;
        return groups;
    }
}
