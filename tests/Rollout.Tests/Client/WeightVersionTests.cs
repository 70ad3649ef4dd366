using Rollout.Client;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Tests.WeightSync;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;

namespace Rollout.Tests.Client;

/// <summary>A trajectory's version tags say which weights produced each of its tokens, across an update that lands while it is generated.</summary>
public sealed class WeightVersionTests
{
    static readonly SamplingParams Long = new() { Temperature = 0, MaxTokens = 480, IgnoreEos = true };

    [Fact]
    public async Task Tokens_after_an_update_carry_its_version_and_are_what_the_new_weights_generate()
    {
        using var s = new UpdateScenario();
        await using var client = new LocalRolloutClient(s.Engine);

        var generating = client.GenerateAsync([WeightSets.Prompt, [.. WeightSets.Prompt.Reverse()]], n: 2, Long);
        // Held at a step boundary while the update goes in, so the update lands mid-way whatever the machine's
        // speed. A thread of its own asks for the pause once every completion has a few tokens: a pooled
        // continuation could wait behind a busy machine's other work until the generation had ended.
        var pause = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcher = new Thread(() =>
        {
            while (s.Engine.Metrics.GeneratedTokens < 12) Thread.Yield();
            pause.SetResult(s.Engine.PauseAsync(PauseMode.Keep));
        }) { IsBackground = true };
        watcher.Start();
        await await pause.Task;
        await new InProcessWeightSender(s.Receiver).PushAsync(WeightSets.Tensors(s.B), new PushOptions { InFlight = InFlightPolicy.Recompute });
        s.Engine.Resume();
        var groups = await generating;

        using var freshB = WeightSets.Load(seed: 4321);
        using var engineB = WeightSets.Engine(freshB);
        foreach (var t in groups.SelectMany(g => g.Trajectories))
        {
            int old = t.WeightVersions.TakeWhile(v => v == 0).Count();
            Assert.InRange(old, 1, t.CompletionTokenIds.Count - 1);
            Assert.All(t.WeightVersions.Skip(old), v => Assert.Equal(1L, v));
            int[] prefix = [.. t.PromptTokenIds, .. t.CompletionTokenIds.Take(old)];
            Assert.Equal(WeightSets.Greedy(engineB, prefix, Long with { MaxTokens = Long.MaxTokens!.Value - old }), t.CompletionTokenIds.Skip(old));
        }
        Assert.Equal(1L, client.Statistics.NewestVersion);
    }
}
