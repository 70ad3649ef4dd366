using System.Text.Json;
using Rollout.Examples.Rlhf;
using Rollout.TestSupport;

namespace Rollout.Tests.Examples;

/// <summary>
/// examples/rlhf, shortened: every channel runs the whole loop (warm-up, GRPO steps, a push after
/// each) and writes what the README promises. Whether it learns is the default run's to show.
/// </summary>
public class RlhfExampleTests
{
    [Theory]
    [InlineData("inproc")]
    [InlineData("ipc")]
    [InlineData("http")]
    public async Task A_short_run_over_each_channel_writes_its_csv_plot_and_summary(string name)
    {
        var channel = Enum.Parse<WeightChannel>(name, ignoreCase: true);
        string folder = TinyModels.TempFolder();
        var options = new RunOptions
        {
            Channel = channel, Steps = 3, PromptsPerStep = 8, GroupSize = 4, WarmupMaxSteps = 10, EvalEvery = 2, HeldOutProblems = 40,
            OutputDirectory = Path.Combine(folder, "out"), SummaryJson = Path.Combine(folder, "summary.json"),
        };

        var summary = await new GrpoLoop(options).RunAsync();

        Assert.Equal(3, summary.Steps);
        Assert.Equal(name, summary.Channel);
        Assert.Equal(40, summary.HeldOutProblems);
        // One push every five warm-up steps, then one after every GRPO step: versions count them all.
        Assert.Equal(summary.WarmupSteps / 5 + 3, summary.FinalWeightVersion);
        Assert.InRange(summary.MaxLogprobDiff, 0, 1e-4);
        Assert.InRange(summary.P999LogprobDiff, 0, summary.MaxLogprobDiff);
        string[] csv = File.ReadAllLines(Path.Combine(options.OutputDirectory, "steps.csv"));
        Assert.Equal("step,reward,train_accuracy,heldout_accuracy,kl,tokens_per_second,sync_seconds,logprob_diff_max", csv[0]);
        Assert.Equal(["1", "2", "3"], csv.Skip(1).Select(l => l.Split(',')[0]));
        Assert.Equal("", csv[1].Split(',')[3]);
        Assert.NotEqual("", csv[2].Split(',')[3]);
        byte[] png = File.ReadAllBytes(Path.Combine(options.OutputDirectory, "reward.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        using var json = JsonDocument.Parse(File.ReadAllText(options.SummaryJson));
        foreach (string field in new[] { "initial_accuracy", "final_accuracy", "steps", "wall_seconds", "max_logprob_diff", "channel" })
            Assert.True(json.RootElement.TryGetProperty(field, out _), $"summary lacks {field}");
        Assert.Equal(summary.FinalAccuracy, json.RootElement.GetProperty("final_accuracy").GetDouble());
    }

    /// <summary>With the batch-invariant kernels on both sides, every logprob the engine reports equals the trainer's exactly.</summary>
    [Fact]
    public async Task The_batch_invariant_run_has_no_engine_trainer_logprob_difference()
    {
        string folder = TinyModels.TempFolder();
        var options = new RunOptions
        {
            Steps = 3, PromptsPerStep = 8, GroupSize = 4, WarmupMaxSteps = 10, EvalEvery = 2, HeldOutProblems = 40,
            OutputDirectory = Path.Combine(folder, "out"), BatchInvariant = true,
        };

        var summary = await new GrpoLoop(options).RunAsync();

        Assert.Equal(3, summary.Steps);
        Assert.Equal(0, summary.MaxLogprobDiff);
    }

    [Fact]
    public void Training_problems_never_include_a_held_out_one()
    {
        var task = new AdditionTask(2);
        var (heldOut, draw) = task.Split(200, seed: 3);
        Assert.Equal(200, heldOut.Distinct().Count());
        var random = new Random(5);
        var held = heldOut.ToHashSet();
        var drawn = Enumerable.Range(0, 20_000).Select(_ => draw(random)).ToList();
        Assert.DoesNotContain(drawn, held.Contains);
        Assert.True(drawn.Distinct().Count() > 8_000, "training draws cover the rest of the problems");
    }

    [Fact]
    public void The_reward_is_one_for_the_exact_answer_and_partial_for_digits_in_place()
    {
        var task = new AdditionTask(2);
        var problem = new Problem(47, 85);
        var answer = task.Answer(problem);
        Assert.Equal([2, 3, 1, AdditionTask.Eos], answer);
        string reference = AdditionTask.Reference(problem);
        Assert.Equal(1f, task.Reward(reference, answer));
        Assert.Equal(0.5f * 2 / 3, task.Reward(reference, [2, 3, 9, AdditionTask.Eos]));
        Assert.Equal(0.5f, task.Reward(reference, [2, 3, 1]));
        Assert.Equal(0f, task.Reward(reference, []));
        Assert.True(task.Solves(problem, answer));
        Assert.False(task.Solves(problem, [2, 3, 1]));
    }
}
