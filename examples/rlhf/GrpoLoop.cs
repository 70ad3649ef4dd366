using System.Diagnostics;
using System.Text.Json;
using Rollout.Client;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models.Configuration;
using Rollout.Rewards;
using Rollout.WeightSync;
using Spectre.Console;

namespace Rollout.Examples.Rlhf;

/// <summary>
/// The run: a short supervised warm-up, then GRPO steps, each generating groups with the engine,
/// rewarding them, updating the policy and pushing its weights back to the engine before the next.
/// </summary>
internal sealed class GrpoLoop(RunOptions options)
{
    readonly AdditionTask _task = new(options.Digits);

    public async Task<RunSummary> RunAsync()
    {
        var wall = Stopwatch.StartNew();
        Directory.CreateDirectory(options.OutputDirectory);
        var random = new Random(options.Seed);
        var (heldOut, drawTraining) = _task.Split(options.HeldOutProblems, options.Seed);
        var validation = Enumerable.Range(0, 200).Select(_ => drawTraining(random)).ToList();

        string configJson = Policy.ConfigJson(options.HiddenSize, options.Layers);
        var config = HfConfigParser.Parse(configJson);
        using var trainer = new PolicyTrainer(Policy.Create(config, options.Seed, options.ModelOptions), options.WarmupLearningRate, options.Clip, options.KlWeight);
        string checkpoint = Path.Combine(options.OutputDirectory, "initial-policy");
        Policy.Save(trainer.Policy, configJson, checkpoint);
        var engineOptions = new EngineOptions { KvCacheBytes = 64L << 20, MaxModelLength = 64, Seed = options.Seed };
        await using var setup = await EngineSetup.StartAsync(checkpoint, options.Channel, engineOptions, options.ModelOptions);
        long version = 0;
        var syncSeconds = new List<double>();
        async Task Push()
        {
            var push = Stopwatch.StartNew();
            var outcome = (await WeightPusher.PushAsync(trainer.Policy, [setup.Sender], new PushOptions { Version = ++version }, TorchSharp.torch.ScalarType.Float32))[0];
            if (!outcome.Succeeded) throw new InvalidOperationException($"weight push failed: {outcome.Error?.Message}", outcome.Error);
            syncSeconds.Add(push.Elapsed.TotalSeconds);
        }

        using var log = new RunLog(Path.Combine(options.OutputDirectory, "steps.csv"));
        var gaps = new List<float>();
        double initial = 0, final = 0;
        int warmupSteps = 0;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var warmup = progress.AddTask("supervised warm-up", maxValue: options.WarmupTarget);
                while (warmupSteps < options.WarmupMaxSteps)
                {
                    using (var batch = Demonstrations(Enumerable.Range(0, 64).Select(_ => drawTraining(random))))
                        trainer.SupervisedStep(batch);
                    if (++warmupSteps % 5 != 0) continue;
                    await Push();
                    double accuracy = await AccuracyAsync(setup.Client, validation);
                    warmup.Value = Math.Min(accuracy, options.WarmupTarget);
                    if (accuracy >= options.WarmupTarget) break;
                }
                warmup.Value = warmup.MaxValue;
                trainer.FreezeReference(Policy.Create(config, options.Seed, options.ModelOptions));
                initial = await AccuracyAsync(setup.Client, heldOut);

                var grpo = progress.AddTask("GRPO", maxValue: options.Steps);
                var rewards = new RewardPipeline([new RewardComponent("addition", RewardFunction.FromItem(i => _task.Reward(i.Reference!, i.CompletionTokenIds)))]);
                double heldOutNow = initial;
                for (int step = 1; step <= options.Steps; step++)
                {
                    // Decaying linearly to a tenth: big steps while there is much to learn, small ones so the end holds what was learnt.
                    trainer.UseLearningRate(options.LearningRate * (1 - 0.9 * (step - 1) / options.Steps));
                    var problems = Enumerable.Range(0, options.PromptsPerStep).Select(_ => drawTraining(random)).ToList();
                    var prompts = problems.Select(p => (IReadOnlyList<int>)_task.Prompt(p)).ToList();
                    var sampling = new SamplingParams { Temperature = 1f, MaxTokens = _task.AnswerTokens, Logprobs = 0, Seed = options.Seed * 100_003L + step };
                    var generation = Stopwatch.StartNew();
                    var groups = await setup.Client.GenerateAsync(prompts, options.GroupSize, sampling);
                    double seconds = generation.Elapsed.TotalSeconds;

                    var rewarded = await rewards.ScoreAsync(groups, problems.Select(AdditionTask.Reference).ToList());
                    var scored = rewarded.SelectMany(g => g.Group.Trajectories.Zip(g.Advantages)).ToList();
                    double reward = rewarded.SelectMany(g => g.Outcomes).Average(o => o.Total ?? 0);
                    double solved = rewarded.Average(g => g.Stats?.FractionSolved ?? 0);
                    double tokens = scored.Sum(s => s.First.CompletionTokenIds.Count);
                    // Sorted by length, equal-length sequences attend as one batch in the trainer's forward.
                    scored.Sort((x, y) => x.First.CompletionTokenIds.Count.CompareTo(y.First.CompletionTokenIds.Count));
                    UpdateStatistics update;
                    using (var batch = TrajectoryBatch.Packed(scored.Select(s => s.First).ToList(), scored.Select(s => s.Second).ToList(), TorchSharp.torch.CPU))
                        update = trainer.GrpoStep(batch);
                    gaps.AddRange(update.LogprobGaps);
                    await Push();
                    double? measured = null;
                    if (step % options.EvalEvery == 0 || step == options.Steps) heldOutNow = (measured = await AccuracyAsync(setup.Client, heldOut)).Value;
                    log.Add(new StepRecord(step, reward, solved, measured, update.Kl, tokens / seconds, syncSeconds[^1], update.LogprobGaps.Max()));
                    grpo.Description = $"GRPO  reward {reward:F2}  held-out {heldOutNow:P0}";
                    grpo.Increment(1);
                }
                final = heldOutNow;
            });

        RewardPlot.Save(log.Records, initial, Path.Combine(options.OutputDirectory, "reward.png"));
        gaps.Sort();
        var summary = new RunSummary
        {
            InitialAccuracy = initial,
            FinalAccuracy = final,
            Steps = options.Steps,
            WarmupSteps = warmupSteps,
            WallSeconds = wall.Elapsed.TotalSeconds,
            MaxLogprobDiff = gaps.Count == 0 ? 0 : gaps[^1],
            P999LogprobDiff = gaps.Count == 0 ? 0 : gaps[(int)Math.Min(gaps.Count - 1, Math.Ceiling(0.999 * gaps.Count) - 1)],
            Channel = options.Channel.ToString().ToLowerInvariant(),
            HeldOutProblems = heldOut.Count,
            MeanSyncSeconds = syncSeconds.Average(),
            FinalWeightVersion = version,
        };
        if (options.SummaryJson is { } path)
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        return summary;
    }

    /// <summary>The problems with their answers as completions, for the supervised warm-up.</summary>
    TrajectoryBatch Demonstrations(IEnumerable<Problem> problems)
    {
        var answers = problems.Select((p, i) =>
        {
            var answer = _task.Answer(p);
            return new Trajectory
            {
                PromptIndex = i, Index = 0, PromptTokenIds = _task.Prompt(p), CompletionTokenIds = answer,
                Logprobs = new float[answer.Length], WeightVersions = new long[answer.Length],
            };
        }).ToList();
        return TrajectoryBatch.Packed(answers, new float[answers.Count], TorchSharp.torch.CPU);
    }

    /// <summary>The fraction of <paramref name="problems"/> the served policy solves greedily.</summary>
    async Task<double> AccuracyAsync(IRolloutClient client, IReadOnlyList<Problem> problems)
    {
        var prompts = problems.Select(p => (IReadOnlyList<int>)_task.Prompt(p)).ToList();
        var groups = await client.GenerateAsync(prompts, 1, new SamplingParams { Temperature = 0f, MaxTokens = _task.AnswerTokens });
        return groups.Count(g => _task.Solves(problems[g.PromptIndex], g.Trajectories[0].CompletionTokenIds)) / (double)problems.Count;
    }
}
