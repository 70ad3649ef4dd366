using System.CommandLine;
using System.Globalization;
using Rollout.Examples.Rlhf;
using Spectre.Console;

var defaults = new RunOptions();
var channel = new Option<string>("--channel") { Description = "how weights reach the engine after every step: inproc, ipc or http", DefaultValueFactory = _ => "inproc" };
channel.AcceptOnlyFromAmong("inproc", "ipc", "http");
var steps = new Option<int>("--steps") { Description = "GRPO steps", DefaultValueFactory = _ => defaults.Steps };
var prompts = new Option<int>("--prompts-per-step") { Description = "problems per GRPO step", DefaultValueFactory = _ => defaults.PromptsPerStep };
var group = new Option<int>("--group-size") { Description = "completions sampled per problem", DefaultValueFactory = _ => defaults.GroupSize };
var digits = new Option<int>("--digits") { Description = "digits of each operand", DefaultValueFactory = _ => defaults.Digits };
var seed = new Option<int>("--seed") { Description = "seed of the data, the initial weights and the sampling", DefaultValueFactory = _ => defaults.Seed };
var learningRate = new Option<double>("--lr") { Description = "GRPO learning rate", DefaultValueFactory = _ => defaults.LearningRate };
var klWeight = new Option<double>("--kl") { Description = "weight of the KL penalty to the post-warm-up policy", DefaultValueFactory = _ => defaults.KlWeight };
var output = new Option<string>("--out") { Description = "folder for steps.csv, reward.png and the initial checkpoint", DefaultValueFactory = _ => defaults.OutputDirectory };
var summary = new Option<string?>("--summary-json") { Description = "also write the run's summary to this JSON file" };
var batchInvariant = new Option<bool>("--batch-invariant") { Description = "trainer and engine on the batch-invariant kernels: engine logprobs equal the trainer's bit for bit" };
foreach (var positive in new[] { steps, prompts, group, digits })
    positive.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError($"{r.Option.Name} must be >= 1"); });
digits.Validators.Add(r => { if (r.GetValueOrDefault<int>() > 6) r.AddError("--digits must be <= 6"); });

var root = new RootCommand("GRPO on multi-digit addition: a small Qwen3-style policy trained with the Rollout engine for every rollout.")
{
    channel, steps, prompts, group, digits, seed, learningRate, klWeight, output, summary, batchInvariant,
};
root.SetAction(async result =>
{
    var options = defaults with
    {
        Channel = Enum.Parse<WeightChannel>(result.GetRequiredValue(channel), ignoreCase: true),
        Steps = result.GetValue(steps),
        PromptsPerStep = result.GetValue(prompts),
        GroupSize = result.GetValue(group),
        Digits = result.GetValue(digits),
        Seed = result.GetValue(seed),
        LearningRate = result.GetValue(learningRate),
        KlWeight = result.GetValue(klWeight),
        OutputDirectory = result.GetRequiredValue(output),
        SummaryJson = result.GetValue(summary),
        BatchInvariant = result.GetValue(batchInvariant),
    };
    var run = await new GrpoLoop(options).RunAsync();
    var table = new Table().AddColumns("", "value");
    string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
    table.AddRow("channel", run.Channel + (options.BatchInvariant ? ", batch-invariant kernels" : ""));
    table.AddRow("held-out accuracy", $"{P(run.InitialAccuracy)} -> {P(run.FinalAccuracy)} ({run.HeldOutProblems} problems never trained on)");
    table.AddRow("steps", $"{run.WarmupSteps} supervised warm-up, {run.Steps} GRPO");
    table.AddRow("engine vs trainer logprob", $"max |diff| {run.MaxLogprobDiff:E2}, 99.9th percentile {run.P999LogprobDiff:E2}");
    table.AddRow("weight sync", $"{run.MeanSyncSeconds * 1000:F1} ms a push on average, {run.FinalWeightVersion} versions");
    table.AddRow("wall time", $"{run.WallSeconds:F0} s");
    table.AddRow("written", $"{Path.Combine(options.OutputDirectory, "steps.csv")}, {Path.Combine(options.OutputDirectory, "reward.png")}");
    AnsiConsole.Write(table);
    return 0;
});
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line, as the rollout CLI answers a usage error, rather than every error and the whole help.
    Console.Error.WriteLine($"error: {parsed.Errors[0].Message}");
    Console.Error.WriteLine("run with --help for usage");
    return 2;
}
try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is Rollout.WeightSync.WeightUpdateException or IOException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
