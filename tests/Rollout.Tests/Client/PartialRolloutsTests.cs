using Rollout.Client;
using Rollout.Engine.Sampling;

namespace Rollout.Tests.Client;

/// <summary>
/// A step ends once half its groups have finished; the other group's completions are aborted and kept, and
/// the next step continues them to exactly what an uninterrupted greedy run generates.
/// </summary>
[Collection(RemoteEnginesCollection.Name)]
public sealed class PartialRolloutsTests(RemoteEnginesFixture engines)
{
    static readonly int[] Straggler = [256, 3, 8];
    static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 400, IgnoreEos = true };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stragglers_are_cut_at_the_early_stop_and_continued_in_the_next_step(bool remote)
    {
        // The quick prompt's first greedy token stops it at once; the straggler never generates that token.
        var whole = engines.Local.Generate([Straggler], Greedy)[0].Outputs[0].TokenIds;
        var (quick, stop) = QuickPrompt(whole);
        var sampling = Greedy with { StopTokenIds = [stop] };
        await using RolloutClient client = remote ? engines.Remote() : new LocalRolloutClient(engines.Local);
        var rollouts = new PartialRollouts(client, n: 2, sampling, new EarlyStop { FinishedFraction = 0.5 });

        var first = await rollouts.StepAsync([quick, Straggler]);

        var done = Assert.Single(first);
        Assert.Equal(0, done.PromptIndex);
        Assert.All(done.Trajectories, t => Assert.Equal([stop], t.CompletionTokenIds));
        var cut = Assert.Single(rollouts.Unfinished);
        Assert.Equal(1, cut.PromptIndex);
        Assert.Equal(2, cut.Trajectories.Count);
        Assert.All(cut.Trajectories, t => Assert.Equal("abort", t.FinishReason));
        Assert.All(cut.Trajectories, t => Assert.Equal(whole.Take(t.CompletionTokenIds.Count), t.CompletionTokenIds));

        var second = await rollouts.StepAsync([]);

        var continued = Assert.Single(second);
        Assert.Equal(1, continued.PromptIndex);
        Assert.Empty(rollouts.Unfinished);
        foreach (var (before, after) in cut.Trajectories.Zip(continued.Trajectories))
        {
            Assert.Equal(before.Index, after.Index);
            Assert.Equal(whole, after.CompletionTokenIds);
            Assert.Equal("length", after.FinishReason);
            Assert.Equal(before.Logprobs, after.Logprobs.Take(before.Logprobs.Count));
            Assert.Equal(whole.Count, after.Logprobs.Count);
            Assert.Equal(new long[whole.Count], after.WeightVersions);
            Assert.Equal(Straggler, after.PromptTokenIds);
        }
    }

    /// <summary>A one-token prompt whose first greedy token is not among <paramref name="avoided"/>, and that token.</summary>
    (int[] Prompt, int Token) QuickPrompt(IReadOnlyList<int> avoided)
    {
        int[][] candidates = [.. Enumerable.Range(1, 64).Select(t => new[] { t })];
        var firsts = engines.Local.Generate(candidates, Greedy with { MaxTokens = 1 });
        int i = firsts.ToList().FindIndex(f => !avoided.Contains(f.Outputs[0].TokenIds[0]));
        Assert.True(i >= 0, "every candidate's first token is among the straggler's");
        return (candidates[i], firsts[i].Outputs[0].TokenIds[0]);
    }

    [Fact]
    public async Task Prompts_are_numbered_across_steps()
    {
        await using var client = new LocalRolloutClient(engines.Local);
        var rollouts = new PartialRollouts(client, n: 1, Greedy with { MaxTokens = 3 }, new EarlyStop { FinishedFraction = 1 });

        var first = await rollouts.StepAsync([[17, 300, 42], Straggler]);
        var second = await rollouts.StepAsync([Straggler]);

        Assert.Equal([0, 1], first.Select(g => g.PromptIndex));
        Assert.Equal([2], second.Select(g => g.PromptIndex));
    }

    [Fact]
    public async Task A_remote_client_without_the_admin_token_cannot_end_steps_early()
    {
        await using var client = engines.Remote(new RemoteRolloutOptions { ApiKey = RemoteEnginesFixture.ApiKey });

        Assert.Throws<InvalidOperationException>(() => new PartialRollouts(client, 2, Greedy, new EarlyStop { FinishedFraction = 0.5 }));
    }
}
