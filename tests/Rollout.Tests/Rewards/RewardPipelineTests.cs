using Rollout.Client;
using Rollout.Rewards;

namespace Rollout.Tests.Rewards;

public class RewardPipelineTests
{
    static readonly RewardPipelineOptions Quick = new() { Timeout = TimeSpan.FromMilliseconds(100) };

    /// <summary>Groups whose completions are one token each, that token the reward a rule reads off it.</summary>
    static TrajectoryGroup[] Groups(params int[][] completions) =>
        completions.Select((tokens, g) => new TrajectoryGroup
        {
            PromptIndex = g,
            PromptTokenIds = [100 + g],
            Trajectories = tokens.Select((token, i) => RewardGenerators.Make([100 + g], [token]) with { PromptIndex = g, Index = i }).ToArray(),
        }).ToArray();

    static readonly RewardComponent TokenValue = new("token", RewardFunction.FromItem(input => input.CompletionTokenIds[0]));

    static RewardComponent Failing(string name, Func<IReadOnlyList<RewardInput>, CancellationToken, Task<IReadOnlyList<float>>> reward) =>
        new(name, RewardFunction.FromBatchAsync(reward));

    static RewardOutcome[] Outcomes(IReadOnlyList<GroupRewards> groups) => groups.SelectMany(g => g.Outcomes).ToArray();

    [Fact]
    public async Task A_throwing_function_is_recorded_with_its_message_and_the_other_components_still_score()
    {
        var pipeline = new RewardPipeline([TokenValue, Failing("broken", (_, _) => throw new InvalidOperationException("grader down"))], Quick);
        var outcomes = Outcomes(await pipeline.ScoreAsync(Groups([1, 2], [3])));
        Assert.Equal(3, outcomes.Length);
        Assert.All(outcomes, o =>
        {
            Assert.Null(o.Total);
            var failure = Assert.Single(o.Failures);
            Assert.Equal(("broken", RewardFailureKind.Exception, "exception: grader down"), (failure.Component, failure.Kind, failure.Reason));
        });
        Assert.Equal([1f, 2f, 3f], outcomes.Select(o => o.Components["token"]));
    }

    [Fact]
    public async Task A_function_that_hangs_past_the_timeout_is_recorded_as_a_timeout_whether_or_not_it_heeds_cancellation()
    {
        var pipeline = new RewardPipeline(
        [
            TokenValue,
            Failing("ignores-token", (_, _) => new TaskCompletionSource<IReadOnlyList<float>>().Task),
            Failing("heeds-token", async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return []; }),
        ], Quick with { FailedComponentValue = 0 });
        var outcomes = Outcomes(await pipeline.ScoreAsync(Groups([1, 2])));
        Assert.All(outcomes, o =>
        {
            Assert.Equal(["heeds-token", "ignores-token"], o.Failures.Select(f => f.Component).Order());
            Assert.All(o.Failures, f => Assert.Equal(("timeout", RewardFailureKind.Timeout), (f.Reason, f.Kind)));
        });
        // Failed components count as 0, so the total is the rule's alone.
        Assert.Equal([1f, 2f], outcomes.Select(o => o.Total));
    }

    [Fact]
    public async Task A_function_that_blocks_before_returning_its_task_is_abandoned_at_the_timeout()
    {
        using var release = new ManualResetEventSlim();
        try
        {
            // A bounded wait, so that a pipeline that waited for it would get its value and fail the test rather than hang it.
            var blocking = new RewardComponent("blocking", RewardFunction.FromItem(_ => release.Wait(TimeSpan.FromSeconds(10)) ? 1 : 2));
            var outcome = Assert.Single(Outcomes(await new RewardPipeline([TokenValue, blocking], Quick).ScoreAsync(Groups([4]))));
            Assert.Equal(RewardFailureKind.Timeout, Assert.Single(outcome.Failures).Kind);
            Assert.Equal(4f, outcome.Components["token"]);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task A_non_finite_value_fails_only_its_item()
    {
        var pipeline = new RewardPipeline([TokenValue, new RewardComponent("nan-on-two", RewardFunction.FromItem(i => i.CompletionTokenIds[0] == 2 ? float.NaN : 10))], Quick);
        var outcomes = Outcomes(await pipeline.ScoreAsync(Groups([1, 2, 3])));
        Assert.Equal([11f, null, 13f], outcomes.Select(o => o.Total));
        var failure = Assert.Single(outcomes[1].Failures);
        Assert.Equal((RewardFailureKind.NonFinite, "non-finite: NaN"), (failure.Kind, failure.Reason));
        Assert.Equal(2f, outcomes[1].Components["token"]);
        Assert.False(outcomes[1].Components.ContainsKey("nan-on-two"));
        Assert.Empty(outcomes[0].Failures);
    }

    [Fact]
    public async Task A_wrong_count_fails_every_item_of_that_component()
    {
        var pipeline = new RewardPipeline([TokenValue, Failing("short", (_, _) => Task.FromResult<IReadOnlyList<float>>([1f]))], Quick);
        var outcomes = Outcomes(await pipeline.ScoreAsync(Groups([1, 2], [3])));
        Assert.All(outcomes, o => Assert.Equal((RewardFailureKind.WrongCount, "wrong count: 1 values for 3 inputs"), (o.Failures[0].Kind, o.Failures[0].Reason)));
        Assert.All(outcomes, o => Assert.Null(o.Total));
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_a_failure_but_cancels_the_call()
    {
        using var cancel = new CancellationTokenSource();
        var pipeline = new RewardPipeline([Failing("waits", async (_, ct) => { cancel.Cancel(); await Task.Delay(Timeout.Infinite, ct); return []; })]);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.ScoreAsync(Groups([1]), cancellationToken: cancel.Token));
    }

    [RewardsProperty]
    public void Components_add_up_to_the_weighted_total(WeightedValues w)
    {
        var components = w.Weights.Select((weight, c) => new RewardComponent($"c{c}", RewardFunction.FromBatchAsync((_, _) => Task.FromResult<IReadOnlyList<float>>(w.Values[c])), weight));
        int items = w.Values[0].Length;
        var groups = Groups(new int[items]);
        var outcomes = Outcomes(new RewardPipeline(components).ScoreAsync(groups).GetAwaiter().GetResult());
        for (int i = 0; i < items; i++)
        {
            Assert.Empty(outcomes[i].Failures);
            double expected = w.Weights.Select((weight, c) => (double)weight * w.Values[c][i]).Sum();
            Assert.Equal(expected, outcomes[i].Total!.Value, 1e-3);
            for (int c = 0; c < w.Weights.Length; c++) Assert.Equal(w.Values[c][i], outcomes[i].Components[$"c{c}"]);
        }
    }

    [Fact]
    public async Task Each_group_gets_statistics_and_advantages_over_its_scored_trajectories_and_zero_for_the_others()
    {
        // Token 9 makes the second component fail; items without a total are out of the statistics.
        var picky = new RewardComponent("picky", RewardFunction.FromItem(i => i.CompletionTokenIds[0] == 9 ? float.PositiveInfinity : 0));
        var pipeline = new RewardPipeline([TokenValue, picky], new RewardPipelineOptions { AdvantageMethod = AdvantageMethod.Rloo, SolvedThreshold = 1 });
        var input = Groups([1, 0, 9, 0, 1], [9, 9], [3]);
        var groups = await pipeline.ScoreAsync(input);
        Assert.Equal(input, groups.Select(g => g.Group));

        var first = groups[0];
        Assert.Equal(new GroupStats(4, 0.5, Math.Sqrt(1 / 3.0), 0, 1, 0.5), first.Stats);
        float[] scoredAdvantages = GroupAdvantages.Rloo([1f, 0f, 0f, 1f]);
        Assert.Equal([scoredAdvantages[0], scoredAdvantages[1], 0f, scoredAdvantages[2], scoredAdvantages[3]], first.Advantages);

        Assert.Null(groups[1].Stats);
        Assert.Equal([0f, 0f], groups[1].Advantages);
        Assert.Equal(new GroupStats(1, 3, 0, 3, 3, 1), groups[2].Stats);
        Assert.Equal([0f], groups[2].Advantages);
    }

    [Fact]
    public async Task Every_completion_sees_its_groups_reference_and_text()
    {
        var groups = Groups([1, 2], [3]);
        groups[1] = groups[1] with { Trajectories = [groups[1].Trajectories[0] with { Text = "42" }] };
        var exact = new RewardComponent("exact", RewardFunction.FromItem(i => i.CompletionText == i.Reference ? 1 : 0));
        var seen = new List<string?>();
        var spy = new RewardComponent("spy", RewardFunction.FromBatchAsync((batch, _) =>
        {
            seen.AddRange(batch.Select(i => i.Reference));
            return Task.FromResult<IReadOnlyList<float>>(new float[batch.Count]);
        }));
        var outcomes = Outcomes(await new RewardPipeline([exact, spy]).ScoreAsync(groups, ["7", "42"]));
        Assert.Equal(["7", "7", "42"], seen);
        Assert.Equal([0f, 0f, 1f], outcomes.Select(o => o.Total));
    }

    sealed class RecordingModel : IRewardModel
    {
        public List<ScoreRequest> Seen { get; } = [];

        public Task<IReadOnlyList<float>> RewardAsync(IReadOnlyList<ScoreRequest> sequences, CancellationToken cancellationToken)
        {
            Seen.AddRange(sequences);
            return Task.FromResult<IReadOnlyList<float>>(sequences.Select(s => (float)s.CompletionTokenIds.Sum()).ToArray());
        }
    }

    [Fact]
    public async Task A_reward_model_is_one_more_component_and_sees_each_prompt_and_completion()
    {
        var model = new RecordingModel();
        var pipeline = new RewardPipeline([TokenValue, new RewardComponent("model", RewardFunction.FromModel(model), Weight: 0.5f)]);
        var outcomes = Outcomes(await pipeline.ScoreAsync(Groups([2], [4])));
        Assert.Equal([(100, 2), (101, 4)], model.Seen.Select(s => (s.PromptTokenIds.Single(), s.CompletionTokenIds.Single())));
        Assert.Equal([3f, 6f], outcomes.Select(o => o.Total));
    }

    [Fact]
    public void A_pipeline_refuses_repeated_names_non_finite_weights_and_no_components()
    {
        Assert.Throws<ArgumentException>(() => new RewardPipeline([]));
        Assert.Contains("two components are named 'token'", Assert.Throws<ArgumentException>(() => new RewardPipeline([TokenValue, TokenValue])).Message);
        Assert.Throws<ArgumentException>(() => new RewardPipeline([TokenValue with { Weight = float.NaN }]));
        Assert.Throws<ArgumentException>(() => new RewardPipeline([TokenValue], new RewardPipelineOptions { Timeout = TimeSpan.Zero }));
    }
}
