using Rollout.Client;
using Rollout.Client.Runs;
using Rollout.Engine.Sampling;
using Rollout.Tests.WeightSync;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;

namespace Rollout.Tests.Client;

/// <summary>
/// A completion cut at version 0 and resumed after an update to version 1: it continues from its tokens,
/// and the staleness bound keeps it, drops it or regenerates it.
/// </summary>
public sealed class StalenessTests
{
    const int Cut = 8;
    static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 20, IgnoreEos = true };

    /// <summary>Generates a whole completion on weights A, cuts it after <see cref="Cut"/> tokens as an early end would, and updates the engine to B.</summary>
    static async Task<(Trajectory Whole, TrajectoryGroup Cut)> CutThenUpdateAsync(UpdateScenario s)
    {
        await using var client = new LocalRolloutClient(s.Engine);
        var whole = (await client.GenerateAsync([WeightSets.Prompt], n: 1, Greedy))[0].Trajectories[0];
        var cut = whole with
        {
            CompletionTokenIds = [.. whole.CompletionTokenIds.Take(Cut)],
            Logprobs = [.. whole.Logprobs.Take(Cut)],
            WeightVersions = [.. whole.WeightVersions.Take(Cut)],
            FinishReason = "abort",
        };
        await new InProcessWeightSender(s.Receiver).PushAsync(WeightSets.Tensors(s.B), new PushOptions());
        return (whole, new TrajectoryGroup { PromptIndex = 0, PromptTokenIds = WeightSets.Prompt, Trajectories = [cut] });
    }

    static async Task<TrajectoryGroup> ResumeAsync(RolloutClient client, TrajectoryGroup cut)
    {
        var groups = new List<TrajectoryGroup>();
        await foreach (var g in client.Run([PendingGroup.Resuming(cut)], Greedy, stop: null, CancellationToken.None)) groups.Add(g);
        return Assert.Single(groups);
    }

    static int[] GreedyOnB(IReadOnlyList<int> prompt, int maxTokens)
    {
        using var b = WeightSets.Load(seed: 4321);
        return WeightSets.GreedyOf(b, prompt, Greedy with { MaxTokens = maxTokens });
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1L)]
    public async Task A_resumed_completion_continues_its_tokens_and_keeps_their_logprobs_and_versions(long? maxStaleness)
    {
        using var s = new UpdateScenario();
        var (whole, cut) = await CutThenUpdateAsync(s);
        await using var client = new LocalRolloutClient(s.Engine, options: new RolloutClientOptions { MaxStaleness = maxStaleness });

        var resumed = Assert.Single((await ResumeAsync(client, cut)).Trajectories);

        Assert.Equal(whole.CompletionTokenIds.Take(Cut), resumed.CompletionTokenIds.Take(Cut));
        Assert.Equal(GreedyOnB([.. WeightSets.Prompt, .. whole.CompletionTokenIds.Take(Cut)], 20 - Cut), resumed.CompletionTokenIds.Skip(Cut));
        Assert.Equal(whole.Logprobs.Take(Cut), resumed.Logprobs.Take(Cut));
        Assert.Equal(20, resumed.Logprobs.Count);
        Assert.Equal([.. Enumerable.Repeat(0L, Cut), .. Enumerable.Repeat(1L, 20 - Cut)], resumed.WeightVersions);
        Assert.Equal(WeightSets.Prompt, resumed.PromptTokenIds);
        Assert.Equal("length", resumed.FinishReason);
        Assert.Equal(new RolloutStatistics(1, 0, 0), client.Statistics);
    }

    [Fact]
    public async Task A_completion_older_than_the_bound_is_dropped()
    {
        using var s = new UpdateScenario();
        var (_, cut) = await CutThenUpdateAsync(s);
        await using var client = new LocalRolloutClient(s.Engine, options: new RolloutClientOptions { MaxStaleness = 0, Staleness = StalenessPolicy.Drop });

        var group = await ResumeAsync(client, cut);

        Assert.Empty(group.Trajectories);
        Assert.Equal(new RolloutStatistics(1, 1, 0), client.Statistics);
    }

    [Fact]
    public async Task A_completion_older_than_the_bound_is_regenerated_on_the_new_weights()
    {
        using var s = new UpdateScenario();
        var (_, cut) = await CutThenUpdateAsync(s);
        await using var client = new LocalRolloutClient(s.Engine, options: new RolloutClientOptions { MaxStaleness = 0, Staleness = StalenessPolicy.Recompute });

        var regenerated = Assert.Single((await ResumeAsync(client, cut)).Trajectories);

        Assert.Equal(GreedyOnB(WeightSets.Prompt, 20), regenerated.CompletionTokenIds);
        Assert.All(regenerated.WeightVersions, v => Assert.Equal(1L, v));
        Assert.Equal(0, regenerated.Index);
        Assert.Equal(new RolloutStatistics(1, 0, 1), client.Statistics);
    }
}
