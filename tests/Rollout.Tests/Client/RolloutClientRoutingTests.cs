using Rollout.Engine.Sampling;

namespace Rollout.Tests.Client;

/// <summary>How a client spreads groups over engines and hands them back, seen through engines that record what they are asked.</summary>
public class RolloutClientRoutingTests
{
    static readonly SamplingParams Sampling = new() { MaxTokens = 2, Seed = 3 };

    static IReadOnlyList<int>[] Prompts(params int[] firstTokens) => [.. firstTokens.Select(t => (IReadOnlyList<int>)[t, 7])];

    [Fact]
    public async Task Each_group_is_one_request_with_n_on_the_least_loaded_engine()
    {
        // Every group is held until all have started, so none finishes and frees its engine before the next picks one.
        var go = new TaskCompletionSource();
        var engines = new[] { new FakeEngine { Hold = _ => go.Task }, new FakeEngine { Hold = _ => go.Task } };
        await using var client = new FakeRolloutClient(engines);

        var generating = client.GenerateAsync(Prompts(10, 11, 12, 13, 14), n: 3, Sampling);
        Assert.Equal([9, 6], client.Router.Outstanding());
        go.SetResult();
        var groups = await generating;

        // Every group asks for 3: the loads go 3/0, 3/3, 6/3, 6/6, 9/6.
        Assert.Equal([10, 12, 14], engines[0].Requests.Select(r => r.Prompt[0]));
        Assert.Equal([11, 13], engines[1].Requests.Select(r => r.Prompt[0]));
        Assert.All(engines.SelectMany(e => e.Requests), r => Assert.Equal(3, r.Sampling.N));
        Assert.All(engines.SelectMany(e => e.Requests), r => Assert.Equal(3L, r.Sampling.Seed));
        Assert.Equal([0, 1, 2, 3, 4], groups.Select(g => g.PromptIndex));
        Assert.All(groups, g => Assert.Equal([0, 1, 2], g.Trajectories.Select(t => t.Index)));
        Assert.All(groups, g => Assert.All(g.Trajectories, t => Assert.Equal(g.PromptTokenIds[0], t.CompletionTokenIds[0])));
        Assert.Equal([0, 0], client.Router.Outstanding());
    }

    [Fact]
    public async Task A_busy_engine_gets_no_new_group_until_it_is_the_least_loaded()
    {
        var held = new TaskCompletionSource();
        var engines = new[] { new FakeEngine { Hold = _ => held.Task }, new FakeEngine() };
        await using var client = new FakeRolloutClient(engines);

        var busy = client.GenerateAsync(Prompts(20), n: 4, Sampling);
        Assert.Equal([4, 0], client.Router.Outstanding());
        // Engine 1 is idle: with 4 outstanding on engine 0, three groups of 1 all go to engine 1.
        var light = await client.GenerateAsync(Prompts(30, 31, 32), n: 1, Sampling);
        held.SetResult();
        await busy;

        Assert.Equal([20], engines[0].Requests.Select(r => r.Prompt[0]));
        Assert.Equal([30, 31, 32], engines[1].Requests.Select(r => r.Prompt[0]));
        Assert.Equal(3, light.Count);
    }

    [Fact]
    public async Task A_group_is_streamed_as_soon_as_its_last_completion_is_back()
    {
        var slow = new TaskCompletionSource();
        var engine = new FakeEngine { Hold = prompt => prompt[0] == 41 ? slow.Task : Task.CompletedTask };
        await using var client = new FakeRolloutClient(engine);

        var stream = client.StreamAsync(Prompts(41, 42), n: 2, Sampling).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(1, stream.Current.PromptIndex);
        slow.SetResult();
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(0, stream.Current.PromptIndex);
        Assert.False(await stream.MoveNextAsync());
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task A_reader_that_stops_early_leaves_nothing_outstanding()
    {
        var never = new TaskCompletionSource();
        var engine = new FakeEngine { Hold = prompt => prompt[0] == 51 ? never.Task : Task.CompletedTask };
        await using var client = new FakeRolloutClient(engine);

        await foreach (var group in client.StreamAsync(Prompts(50, 51), n: 2, Sampling))
        {
            Assert.Equal(0, group.PromptIndex);
            break;
        }

        Assert.Equal([0], client.Router.Outstanding());
    }

    [Fact]
    public void Bad_calls_are_refused_before_any_engine_is_asked()
    {
        var engines = new[] { new FakeEngine(), new FakeEngine() };
        var client = new FakeRolloutClient(engines);

        Assert.Throws<ArgumentException>(() => client.StreamAsync([], 2, Sampling));
        Assert.Throws<ArgumentOutOfRangeException>(() => client.StreamAsync(Prompts(1), 0, Sampling));
        var empty = Assert.Throws<ArgumentException>(() => client.StreamAsync([[1], []], 2, Sampling));
        Assert.StartsWith("prompts[1]: ", empty.Message);
        var outside = Assert.Throws<ArgumentException>(() => client.StreamAsync([[1], [2], [3, 100]], 2, Sampling));
        Assert.StartsWith("prompts[2]: token 100 is outside the vocabulary", outside.Message);
        Assert.Throws<InvalidSamplingParametersException>(() => client.StreamAsync(Prompts(1), 2, Sampling with { TopP = 0 }));

        Assert.All(engines, e => Assert.Empty(e.Requests));
    }
}
