using System.Diagnostics;
using Rollout.Bench.Hardware;
using Rollout.Engine;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models.Loading;
using Rollout.Models.Native;
using TorchSharp;

namespace Rollout.Bench.Peer;

/// <summary>
/// <c>rollout bench peer</c>: Rollout's engine against llama.cpp (LLamaSharp, in its own process) on
/// the same GGUF file, the same token ids and thread count, greedy, runs interleaved A B A B, each
/// engine timed while the other's processes are stopped; medians with min-max, and each figure as a
/// fraction of the machine's bound measured in the same run.
/// </summary>
internal static class PeerBenchmark
{
    sealed record Workload(string Name, int Sequences, int PromptTokens, int NewTokens);

    public static IReadOnlyDictionary<string, object> Run(bool quick, string? modelPath, int threads, TextWriter log)
    {
        torch.set_num_threads(threads);
        string? written = null;
        if (modelPath is null)
        {
            written = Path.Combine(Path.GetTempPath(), $"rollout-peer-{Environment.ProcessId}.gguf");
            var shape = quick ? PeerModelFile.WriteTiny(written, 6) : PeerModelFile.WriteStories110MShape(written, 6);
            log.WriteLine($"model: wrote a {(quick ? "tiny" : "stories110M-shaped")} llama GGUF (dim {shape.HiddenSize}, {shape.NumHiddenLayers} layers, vocab {shape.VocabSize}) to {written}");
            modelPath = written;
        }
        try
        {
            return Measure(quick, modelPath, threads, log);
        }
        finally
        {
            if (written is not null) File.Delete(written);
        }
    }

    static IReadOnlyDictionary<string, object> Measure(bool quick, string modelPath, int threads, TextWriter log)
    {
        int newTokens = quick ? 8 : 128, repetitions = quick ? 1 : 3;
        Workload[] workloads =
        [
            new("decode1", 1, 32, newTokens), new("batch32", 32, 32, newTokens),
            new("batch64", 64, 32, newTokens), new("prefill512", 1, quick ? 64 : 512, 1),
        ];
        using var loaded = ModelLoader.Load(modelPath);
        var config = loaded.Config;
        long weightBytes = loaded.Model.Parameters().Values.Sum(p => p.numel()) * sizeof(float) - (long)config.VocabSize * config.HiddenSize * sizeof(float);
        double gflops = HardwareBounds.MatmulGflops(
            [(64, config.HiddenSize, config.IntermediateSize), (512, config.HiddenSize, config.IntermediateSize), (64, config.HiddenSize, config.VocabSize)],
            torch.CPU, TimeSpan.FromMilliseconds(quick ? 100 : 1000));
        double gbps = HardwareBounds.MemoryReadGbps(1L << 30, torch.CPU, TimeSpan.FromMilliseconds(quick ? 100 : 1000));
        double flopsPerToken = 2.0 * weightBytes / sizeof(float);
        log.WriteLine($"bounds: matmul {gflops:F0} GFLOP/s, memory read {gbps:F1} GB/s, {weightBytes / 1e6:F0} MB of weights read per decode step; {threads} threads; MKL dispatch: {MklCpuDispatch.State}");

        var random = new Random(17);
        var prompts = workloads.ToDictionary(w => w.Name, w => Enumerable.Range(0, w.Sequences)
            .Select(_ => Enumerable.Range(0, w.PromptTokens).Select(_ => random.Next(3, config.VocabSize)).ToArray()).ToArray());
        var rollout = workloads.ToDictionary(w => w.Name, _ => new List<double>());
        var llama = workloads.ToDictionary(w => w.Name, _ => new List<double>());
        int[]? rolloutDecode1 = null, llamaDecode1 = null;
        using (var batchPeer = LlamaCppPeer.Start(modelPath, threads, 64 * 256, 64))
        using (var prefillPeer = LlamaCppPeer.Start(modelPath, threads, 1024, 1))
        {
            (double RolloutTps, int[] RolloutTokens, LlamaCppResult Llama) RunBoth(Workload w)
            {
                var (tps, tokens) = Alone([batchPeer, prefillPeer], () => RunRollout(loaded, w, prompts[w.Name]));
                var (peer, other) = w.Name == "prefill512" ? (prefillPeer, batchPeer) : (batchPeer, prefillPeer);
                var result = Alone([other], () => peer.Run(new LlamaCppJob(w.Name == "prefill512" ? PeerWorkload.Prefill : PeerWorkload.Decode, prompts[w.Name], w.NewTokens)));
                return (tps, tokens, result);
            }

            // One untimed round, shortened, for both engines: a process's first decodes run before .NET's
            // tiered JIT has optimised the hot loops (measured 19-22 ms against 14-16 ms a batch-1 step).
            log.WriteLine("  warm-up: one shortened round of every workload, untimed");
            foreach (var w in workloads) RunBoth(w with { NewTokens = Math.Min(w.NewTokens, 16) });
            for (int rep = 0; rep < repetitions; rep++)
            {
                foreach (var w in workloads)
                {
                    var (rolloutTps, rolloutTokens, result) = RunBoth(w);
                    rollout[w.Name].Add(rolloutTps);
                    llama[w.Name].Add(w.Name == "prefill512" ? w.PromptTokens / result.PrefillSeconds : result.DecodeTokensPerSecond);
                    if (w.Name == "decode1")
                    {
                        rolloutDecode1 = rolloutTokens;
                        llamaDecode1 = result.Tokens[0];
                    }
                    log.WriteLine($"  rep {rep + 1} {w.Name,-10} rollout {rollout[w.Name][^1],8:F1} tok/s   llama.cpp {llama[w.Name][^1],8:F1} tok/s");
                }
            }
        }

        int compared = Math.Min(rolloutDecode1!.Length, llamaDecode1!.Length);
        double agreement = (double)Enumerable.Range(0, compared).Count(i => rolloutDecode1[i] == llamaDecode1[i]) / compared;
        var json = new Dictionary<string, object>
        {
            ["matmul_gflops"] = gflops,
            ["mem_gbps"] = gbps,
            ["greedy_agreement"] = agreement,
            ["threads"] = threads,
            ["repetitions"] = repetitions,
            ["mkl_dispatch"] = MklCpuDispatch.State.ToString(),
        };
        log.WriteLine();
        log.WriteLine($"{"workload",-11}{"rollout tok/s",22}{"llama.cpp tok/s",22}{"ratio",8}{"rollout of bound",18}");
        foreach (var w in workloads)
        {
            double r = Statistics.Median(rollout[w.Name]), l = Statistics.Median(llama[w.Name]);
            double bound = w.Name == "decode1" ? gbps * 1e9 / weightBytes : gflops * 1e9 / flopsPerToken;
            log.WriteLine($"{w.Name,-11}{Spread(rollout[w.Name]),22}{Spread(llama[w.Name]),22}{r / l,7:F2}x{r / bound,17:P1}");
            json[$"rollout_{w.Name}_tps"] = r;
            json[$"llamacpp_{w.Name}_tps"] = l;
            json[$"ratio_{w.Name}"] = r / l;
            json[$"rollout_{w.Name}_of_bound"] = r / bound;
        }
        log.WriteLine($"greedy agreement on decode1: {agreement:P1} of {compared} steps");
        return json;
    }

    /// <summary>
    /// Tokens/s of one workload through the engine: decode-only steps for the decode workloads (prefill
    /// excluded, as for llama.cpp), prompt tokens over time to first token for the prefill one.
    /// </summary>
    static (double TokensPerSecond, int[] FirstTokens) RunRollout(LoadedModel loaded, Workload w, int[][] prompts)
    {
        long bytesPerToken = PagedKvTensors.BytesPerBlock(loaded.Config, blockSize: 1, loaded.Model.Options.DType);
        var options = new EngineOptions
        {
            KvCacheBytes = (long)(w.Sequences * (w.PromptTokens + w.NewTokens + 32) * bytesPerToken * 1.2),
            MaxNumSequences = w.Sequences,
            MaxNumBatchedTokens = Math.Max(2048, w.Sequences * w.PromptTokens),
        };
        using var engine = LlmEngine.Create(loaded, options);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = w.NewTokens, IgnoreEos = true };
        var watch = Stopwatch.StartNew();
        var outputs = engine.Generate(prompts.Select(p => (IReadOnlyList<int>)p).ToArray(), sampling);
        double seconds = watch.Elapsed.TotalSeconds;
        var metrics = engine.Metrics;
        double tps = w.NewTokens == 1 ? w.PromptTokens / seconds : metrics.MeanDecodeBatchSize / metrics.MeanDecodeStepTime.TotalSeconds;
        return (tps, outputs[0].Outputs[0].TokenIds.ToArray());
    }

    // Each engine is timed with the other's processes stopped, so neither runs beside the other's leftovers.
    static T Alone<T>(LlamaCppPeer[] stopped, Func<T> run)
    {
        foreach (var peer in stopped) peer.Pause();
        try
        {
            return run();
        }
        finally
        {
            foreach (var peer in stopped) peer.Resume();
        }
    }

    static string Spread(List<double> values) => $"{Statistics.Median(values):F1} ({values.Min():F0}-{values.Max():F0})";

}
