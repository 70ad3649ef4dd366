using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Receiver;

namespace Rollout.Tests.WeightSync;

/// <summary>What each in-flight policy does to a request running when an update commits, and the version tags it leaves.</summary>
public class InFlightPolicyTests
{
    static readonly SamplingParams Long = new() { Temperature = 0, MaxTokens = 480, IgnoreEos = true };

    /// <summary>
    /// Starts a long greedy request, waits for its first tokens, commits an update with <paramref name="policy"/>,
    /// and returns the request's final output. Except under wait, which lets it finish anyway, the engine is held
    /// (paused with keep) while the update is pushed, so a fast tiny model cannot finish before the update lands.
    /// </summary>
    static async Task<CompletionOutput> RunAcrossUpdate(UpdateScenario s, InFlightPolicy policy)
    {
        var (b, engine, receiver) = (s.B, s.Engine, s.Receiver);
        var request = engine.AddRequest(WeightSets.Prompt, Long);
        var outputs = request.Outputs.GetAsyncEnumerator();
        while (await outputs.MoveNextAsync() && outputs.Current.Outputs[0].TokenIds.Count < 3) { }
        bool hold = policy != InFlightPolicy.Wait;
        if (hold) await engine.PauseAsync(PauseMode.Keep);
        await new InProcessWeightSender(receiver).PushAsync(WeightSets.Tensors(b), new PushOptions { InFlight = policy });
        // Abort resumes the engine itself once the update is in; keep and recompute leave it as they found it.
        if (hold && policy != InFlightPolicy.Abort) engine.Resume();
        RequestOutput last = outputs.Current;
        while (await outputs.MoveNextAsync()) last = outputs.Current;
        return last.Outputs[0];
    }

    [Fact]
    public async Task Wait_lets_the_running_request_finish_on_the_old_weights_and_serves_the_next_on_the_new()
    {
        using var s = new UpdateScenario();
        var running = await RunAcrossUpdate(s, InFlightPolicy.Wait);
        Assert.Equal("length", running.FinishReason);
        Assert.All(running.WeightVersions, v => Assert.Equal(0L, v));
        using var freshA = WeightSets.Load(seed: 1234);
        Assert.Equal(WeightSets.GreedyOf(freshA, WeightSets.Prompt, Long), running.TokenIds);
        Assert.All((await s.Engine.AddRequest(WeightSets.Prompt, WeightSets.GreedyTwelve).CompletionAsync()).Outputs[0].WeightVersions, v => Assert.Equal(1L, v));
    }

    [Fact]
    public async Task Abort_ends_the_running_request_with_its_partial_output()
    {
        using var s = new UpdateScenario();
        var running = await RunAcrossUpdate(s, InFlightPolicy.Abort);
        Assert.Equal("abort", running.FinishReason);
        Assert.InRange(running.TokenIds.Count, 3, Long.MaxTokens!.Value - 1);
        Assert.All(running.WeightVersions, v => Assert.Equal(0L, v));
    }

    [Fact]
    public async Task Keep_goes_on_over_the_old_KV_with_every_token_tagged_by_the_weights_that_produced_it()
    {
        using var s = new UpdateScenario();
        var running = await RunAcrossUpdate(s, InFlightPolicy.Keep);
        Assert.Equal("length", running.FinishReason);
        int old = running.WeightVersions.TakeWhile(v => v == 0).Count();
        Assert.InRange(old, 3, running.TokenIds.Count - 1);
        Assert.All(running.WeightVersions.Skip(old), v => Assert.Equal(1L, v));
    }

    [Fact]
    public async Task Recompute_continues_as_a_fresh_request_with_the_same_prefix_does_under_the_new_weights()
    {
        using var s = new UpdateScenario();
        var running = await RunAcrossUpdate(s, InFlightPolicy.Recompute);
        Assert.Equal("length", running.FinishReason);
        int old = running.WeightVersions.TakeWhile(v => v == 0).Count();
        Assert.InRange(old, 3, running.TokenIds.Count - 1);
        Assert.All(running.WeightVersions.Skip(old), v => Assert.Equal(1L, v));

        using var freshB = WeightSets.Load(seed: 4321);
        int[] prefix = [.. WeightSets.Prompt, .. running.TokenIds.Take(old)];
        var rest = WeightSets.GreedyOf(freshB, prefix, Long with { MaxTokens = Long.MaxTokens!.Value - old });
        Assert.Equal(rest, running.TokenIds.Skip(old));
    }
}
