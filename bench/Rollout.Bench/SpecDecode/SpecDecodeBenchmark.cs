using System.Diagnostics;
using Rollout.Bench.Peer;
using Rollout.Engine;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models.Loading;
using Rollout.Models.Native;
using TorchSharp;

namespace Rollout.Bench.SpecDecode;

/// <summary>
/// <c>rollout bench specdecode</c>: greedy decode tokens/s with and without n-gram speculation, at batch 1 (one
/// request at a time) and batch 16, on a copy-heavy workload (a small model the benchmark first trains to continue
/// a sequence by copying it, <see cref="CopyTaskModel"/>, on fresh runs it has not seen), on the stories260K
/// fixture's greedy stories when the fixture is there (a real model; it repeats its phrases only a little), and on
/// an ordinary one (random prompts on bench peer's stories110M-shaped random model).
/// Plain and speculative runs alternate, each on a fresh engine after a shortened warm-up; figures are medians.
/// </summary>
internal static class SpecDecodeBenchmark
{
    /// <summary>The stories workload's model, and its file under the shared fixtures folder.</summary>
    public const string StoriesModel = "stories260K";
    const string StoriesModelFile = "stories260K/stories260K-f32.gguf";
    /// <summary>Tokens of a copy prompt's run repeated after it, so that the prompt already shows the copy starting.</summary>
    const int CopyPromptRepeat = 3;
    const int CopyPromptSeed = 99;
    const int WarmUpTokens = 32;
    static readonly int[] BatchSizes = [1, SpecDecodeSettings.BatchSize];

    // Openings of the kind stories260K was trained on, so its continuations are its own typical text.
    static readonly string[] StoryOpenings =
    [
        "Once upon a time", "One day, a little girl", "Tom had a big red ball", "There was a small dog named",
        "Lily and Ben went to the park", "The sun was shining and", "Sue saw a bird in the tree", "Once upon a time, there was a boy named Tim",
        "A little cat wanted to", "Mom said to Lily", "The big bear was", "One day, Max found",
        "Anna liked to play with her", "In a small house lived", "Bob and his friend", "It was a cold day and",
    ];

    /// <summary>The CLI's entry: the stories260K fixture found through ROLLOUT_FIXTURES, its workload left out when it is not there.</summary>
    public static IReadOnlyDictionary<string, object> Run(bool quick, TextWriter log) =>
        Run(quick ? SpecDecodeSettings.Quick : SpecDecodeSettings.Full, SharedFixtures.TryFile(StoriesModelFile), log);

    /// <summary>Runs every workload; the stories260K one only when <paramref name="storiesModelPath"/> is given.</summary>
    public static IReadOnlyDictionary<string, object> Run(SpecDecodeSettings settings, string? storiesModelPath, TextWriter log)
    {
        var speculation = new SpeculativeOptions { Method = SpeculativeMethod.NGram, Adaptive = true };
        var json = new Dictionary<string, object>
        {
            ["speculative_tokens"] = speculation.NumSpeculativeTokens,
            ["copy_new_tokens"] = settings.CopyNewTokens,
            ["plain_new_tokens"] = settings.PlainNewTokens,
            ["repetitions"] = settings.Repetitions,
            ["threads"] = torch.get_num_threads(),
        };
        log.WriteLine($"greedy, n-gram speculation (k {speculation.NumSpeculativeTokens}, n-gram {speculation.NGramMin}-{speculation.NGramMax}, adaptive), " +
                      $"{torch.get_num_threads()} threads, {settings.Repetitions} interleaved plain/speculative pairs per row, medians");
        var greedy = new GreedyTally();

        string copyDirectory = Path.Combine(Path.GetTempPath(), $"rollout-specdecode-copy-{Environment.ProcessId}");
        try
        {
            var training = CopyTaskModel.TrainAndSave(copyDirectory, settings.CopyTrainSteps, settings.CopyTrainSeconds, log);
            json["copy_model"] = CopyTaskModel.Describe(training);
            json["copy_train_steps"] = training.Steps;
            json["copy_train_seconds"] = training.Seconds;
            json["copy_train_heldout_accuracy"] = training.HeldOutAccuracy;
            json["copy_train_final_loss"] = training.FinalLoss;
            using var copy = ModelLoader.Load(copyDirectory);
            var random = new Random(CopyPromptSeed);
            var runs = Enumerable.Range(0, SpecDecodeSettings.BatchSize).Select(_ => CopyTaskModel.Run(random, CopyTaskModel.RunLength(random))).ToArray();
            var prompts = runs.Select(run => (int[])[CopyTaskModel.Bos, .. run, .. run[..CopyPromptRepeat]]).ToArray();
            log.WriteLine($"copy: {json["copy_model"]}, {prompts.Length} prompts (BOS, a fresh run of {CopyTaskModel.MinRun}-{CopyTaskModel.MaxRun} " +
                          $"distinct tokens, its first {CopyPromptRepeat} again), {settings.CopyNewTokens} new tokens each");
            var outputs = Measure("copy", copy, prompts, prompts.Length, settings, settings.CopyNewTokens, speculation, json, greedy, log);
            // How much of the plain greedy output is the run's continuation: what the model was trained to do.
            int copied = 0, whole = 0;
            for (int i = 0; i < runs.Length; i++)
            {
                int matching = outputs[i].Where((token, j) => token == runs[i][(CopyPromptRepeat + j) % runs[i].Length]).Count();
                copied += matching;
                if (matching == outputs[i].Length) whole++;
            }
            json["copy_greedy_accuracy"] = (double)copied / outputs.Sum(o => o.Length);
            log.WriteLine($"        plain greedy output that continues the prompt's run: {json["copy_greedy_accuracy"]:P2} of tokens, {whole} of {runs.Length} sequences entirely");
        }
        finally
        {
            if (Directory.Exists(copyDirectory)) Directory.Delete(copyDirectory, recursive: true);
        }

        if (storiesModelPath is null)
        {
            log.WriteLine($"stories: {StoriesModel} fixture not found (set ROLLOUT_FIXTURES); its workload left out");
        }
        else
        {
            using var stories = ModelLoader.Load(storiesModelPath);
            var tokenizer = stories.Tokenizer ?? throw new InvalidOperationException($"{storiesModelPath} has no tokenizer to encode the story openings with");
            var prompts = StoryOpenings.Select(text => tokenizer.Encode(text).ToArray()).ToArray();
            json["stories_model"] = StoriesModel;
            json["stories_new_tokens"] = settings.StoriesNewTokens;
            log.WriteLine($"stories: {StoriesModel} ({storiesModelPath}), {prompts.Length} story openings (the first {settings.StoriesBatch1Prompts} at batch 1), " +
                          $"{settings.StoriesNewTokens} new tokens each");
            Measure("stories", stories, prompts, settings.StoriesBatch1Prompts, settings, settings.StoriesNewTokens, speculation, json, greedy, log);
        }

        string plainPath = Path.Combine(Path.GetTempPath(), $"rollout-specdecode-{Environment.ProcessId}.gguf");
        try
        {
            string plainModel = settings.TinyPlainModel ? "tiny" : "stories110M-shaped";
            var shape = settings.TinyPlainModel ? PeerModelFile.WriteTiny(plainPath, 6) : PeerModelFile.WriteStories110MShape(plainPath, 6);
            json["plain_model"] = plainModel;
            using var plain = ModelLoader.Load(plainPath);
            var random = new Random(17);
            var prompts = Enumerable.Range(0, SpecDecodeSettings.BatchSize)
                .Select(_ => Enumerable.Range(0, settings.PlainPromptTokens).Select(_ => random.Next(3, shape.VocabSize)).ToArray()).ToArray();
            log.WriteLine($"plain: bench peer's {plainModel} random model (dim {shape.HiddenSize}, {shape.NumHiddenLayers} layers, vocab {shape.VocabSize}), " +
                          $"{prompts.Length} random {settings.PlainPromptTokens}-token prompts " +
                          $"(the first {settings.PlainBatch1Prompts} at batch 1), {settings.PlainNewTokens} new tokens each");
            Measure("plain", plain, prompts, settings.PlainBatch1Prompts, settings, settings.PlainNewTokens, speculation, json, greedy, log);
        }
        finally
        {
            File.Delete(plainPath);
        }

        json["acceptance_rate"] = json["copy_b1_acceptance_rate"];
        json["mean_accepted_length"] = json["copy_b1_mean_accepted_length"];
        json["greedy_identical_fraction"] = greedy.Fraction;
        json["mkl_dispatch"] = MklCpuDispatch.State.ToString();
        log.WriteLine();
        string storiesSpeedup = json.ContainsKey("stories_b1_speedup")
            ? $"stories b1 {json["stories_b1_speedup"]:F2}x, stories b16 {json["stories_b16_speedup"]:F2}x, " : "";
        log.WriteLine($"speedup: copy b1 {json["copy_b1_speedup"]:F2}x (target >= 2x), copy b16 {json["copy_b16_speedup"]:F2}x, {storiesSpeedup}" +
                      $"plain b1 {json["plain_b1_speedup"]:F2}x, plain b16 {json["plain_b16_speedup"]:F2}x (targets >= 0.9x)");
        log.WriteLine($"acceptance (copy b1 speculative runs' EngineMetrics): rate {json["acceptance_rate"]:P1}, mean accepted length {json["mean_accepted_length"]:F2} of {speculation.NumSpeculativeTokens}");
        log.WriteLine($"greedy outputs identical with and without speculation: {greedy.Matched} of {greedy.Compared} sequences");
        log.WriteLine($"MKL dispatch: {MklCpuDispatch.State}");
        return json;
    }

    /// <summary>Measures one workload's rows into <paramref name="json"/>; returns the last plain run's tokens at the largest batch (every prompt's).</summary>
    static int[][] Measure(string workload, LoadedModel model, int[][] prompts, int batch1Prompts, SpecDecodeSettings settings, int newTokens,
                        SpeculativeOptions speculation, Dictionary<string, object> json, GreedyTally greedy, TextWriter log)
    {
        int[][] lastPlain = [];
        // The process's first decodes run before .NET's tiered JIT has optimised the hot loops: one untimed,
        // shortened round of every run first, so the first timed pair is not the slower for it.
        int warmUpTokens = Math.Min(newTokens, WarmUpTokens);
        foreach (int batch in BatchSizes)
        {
            RunOnce(model, prompts[..batch], batch, warmUpTokens, null);
            RunOnce(model, prompts[..batch], batch, warmUpTokens, speculation);
        }
        foreach (int batch in BatchSizes)
        {
            var runPrompts = batch == 1 ? prompts[..batch1Prompts] : prompts;
            var plainRuns = new List<SpecDecodeRun>();
            var specRuns = new List<SpecDecodeRun>();
            for (int rep = 0; rep < settings.Repetitions; rep++)
            {
                // Alternating which goes first keeps a drift in the machine's speed from favouring either.
                bool plainFirst = rep % 2 == 0;
                var first = RunOnce(model, runPrompts, batch, newTokens, plainFirst ? null : speculation);
                var second = RunOnce(model, runPrompts, batch, newTokens, plainFirst ? speculation : null);
                var (plainRun, specRun) = plainFirst ? (first, second) : (second, first);
                plainRuns.Add(plainRun);
                specRuns.Add(specRun);
                greedy.Add(plainRun.Tokens, specRun.Tokens);
                lastPlain = plainRun.Tokens;
            }
            double plainTps = Statistics.Median(plainRuns.Select(r => r.TokensPerSecond));
            double specTps = Statistics.Median(specRuns.Select(r => r.TokensPerSecond));
            var counts = specRuns.Select(r => r.Speculation).Aggregate((a, b) => a + b);
            string key = $"{workload}_b{batch}";
            json[$"{key}_plain_tps"] = plainTps;
            json[$"{key}_spec_tps"] = specTps;
            json[$"{key}_speedup"] = specTps / plainTps;
            json[$"{key}_acceptance_rate"] = counts.AcceptanceRate;
            json[$"{key}_mean_accepted_length"] = counts.MeanAcceptedLength;
            log.WriteLine($"  {workload,-7} b{batch,-3} plain {Spread(plainRuns),-24} spec {Spread(specRuns),-24} {specTps / plainTps,5:F2}x   " +
                          $"accepted {counts.AcceptanceRate:P1}, mean length {counts.MeanAcceptedLength:F2}");
            log.WriteLine($"        tokens per step, plain {Statistics.Median(plainRuns.Select(r => r.TokensPerStep)):F2}, spec {Statistics.Median(specRuns.Select(r => r.TokensPerStep)):F2} " +
                          $"({counts.Steps} of {specRuns.Sum(r => r.Steps)} spec-run steps verified proposals)");
            log.WriteLine($"        mean step, plain {Profile(plainRuns[^1].Metrics)}; spec {Profile(specRuns[^1].Metrics)}, " +
                          $"proposer {counts.ProposerTime.TotalMilliseconds / specRuns.Sum(r => r.Steps):F3} ms per step");
        }
        return lastPlain;
    }

    /// <summary>
    /// One engine, warmed up on the workload shortened (JIT, the adaptive controller's first measurements),
    /// then timed: at batch 1 each prompt is its own generation call, else all go in one.
    /// </summary>
    static SpecDecodeRun RunOnce(LoadedModel model, int[][] prompts, int batch, int newTokens, SpeculativeOptions? speculation)
    {
        long bytesPerToken = PagedKvTensors.BytesPerBlock(model.Config, blockSize: 1, model.Model.Options.DType);
        int longest = prompts.Max(p => p.Length) + newTokens + SpeculativeOptions.MaxSpeculativeTokens + 32;
        var options = new EngineOptions
        {
            KvCacheBytes = (long)(batch * longest * bytesPerToken * 1.2),
            MaxNumSequences = batch,
            Speculation = speculation,
        };
        using var engine = LlmEngine.Create(model, options);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = newTokens, IgnoreEos = true };
        var groups = prompts.Chunk(batch).Select(g => g.Select(p => (IReadOnlyList<int>)p).ToArray()).ToArray();
        engine.Generate(groups[0], sampling with { MaxTokens = Math.Min(newTokens, WarmUpTokens) });
        var before = Settled(engine);

        var tokens = new List<int[]>();
        var watch = Stopwatch.StartNew();
        foreach (var group in groups) tokens.AddRange(engine.Generate(group, sampling).Select(o => o.Outputs[0].TokenIds.ToArray()));
        double seconds = watch.Elapsed.TotalSeconds;

        var after = Settled(engine);
        return new SpecDecodeRun(tokens.Sum(t => t.Length) / seconds, [.. tokens], after.Steps - before.Steps, SpeculationCounts.Between(before, after), after);
    }

    // Generate returns when the last output is published, before the loop records that step's metrics; a step-boundary
    // action runs after it, and whoever awaits one reads metrics that include it.
    static EngineMetrics Settled(LlmEngine engine)
    {
        engine.RunAtStepBoundaryAsync(_ => 0).GetAwaiter().GetResult();
        return engine.Metrics;
    }

    static string Profile(EngineMetrics m) =>
        $"{m.MeanStepTime.TotalMilliseconds:F2} ms (model {m.StepProfile.Model.TotalMilliseconds:F2}, sample {m.StepProfile.Sample.TotalMilliseconds:F2}, " +
        $"schedule {m.StepProfile.Schedule.TotalMilliseconds:F2}, apply {m.StepProfile.Apply.TotalMilliseconds:F2})";

    static string Spread(List<SpecDecodeRun> runs) =>
        runs.Count == 1 ? $"{runs[0].TokensPerSecond:F1} tok/s"
            : $"{Statistics.Median(runs.Select(r => r.TokensPerSecond)):F1} ({runs.Min(r => r.TokensPerSecond):F0}-{runs.Max(r => r.TokensPerSecond):F0}) tok/s";
}
