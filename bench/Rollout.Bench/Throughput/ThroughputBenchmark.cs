using System.Diagnostics;
using Rollout.Bench.Hardware;
using Rollout.Engine;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Attention;
using Rollout.Models.Generation;
using Rollout.Models.Loading;
using Rollout.Models.Native;
using Rollout.Models.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Bench.Throughput;

/// <summary>
/// <c>rollout bench throughput</c>: a GRPO-shaped workload (prompts x samples, temperature 1) through
/// (a) the engine, (b) a naive loop, one request at a time with a contiguous KV cache, and (c) static
/// batching (every sequence in one padded batch, no prefix cache), measured in one run.
/// </summary>
internal static class ThroughputBenchmark
{
    public static IReadOnlyDictionary<string, object> Run(ThroughputWorkload w, TextWriter log)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"rollout-bench-{Environment.ProcessId}");
        try
        {
            TinyModelFactory.Write(dir, "Qwen3ForCausalLM", w.Model);
            using var loaded = ModelLoader.Load(dir);
            var model = (CausalLanguageModel)loaded.Model;
            var config = model.Config;
            long parameters = model.Parameters().Values.Sum(p => p.numel());
            log.WriteLine($"model: Qwen3-style, {parameters / 1e6:F1}M parameters (hidden {config.HiddenSize}, {config.NumHiddenLayers} layers, vocab {config.VocabSize}), fp32, {get_num_threads()} threads");
            log.WriteLine($"workload: {w.Prompts} prompts x {w.SamplesPerPrompt} samples, {w.PromptTokens}-token prompts, {w.NewTokens} new tokens, temperature 1");

            var random = new Random(11);
            var prompts = Enumerable.Range(0, w.Prompts)
                .Select(_ => Enumerable.Range(0, w.PromptTokens).Select(_ => random.Next(config.VocabSize)).ToArray()).ToArray();

            double peak = HardwareBounds.MatmulGflops(
                [(w.Sequences, config.HiddenSize, config.IntermediateSize), (w.Sequences, config.IntermediateSize, config.HiddenSize), (1024, 1024, 1024)],
                CPU, w.MatmulBudget);
            log.WriteLine($"matmul peak: {peak:F1} GFLOP/s (MKL dispatch: {MklCpuDispatch.State})");

            var (engineTps, metrics) = RunEngine(loaded, prompts, w);
            log.WriteLine($"engine:  {engineTps,8:F1} tok/s  (prefix hit {metrics.PrefixCacheHitRate:P1}, {metrics.Steps} steps, {metrics.Preemptions} preemptions, decode step {metrics.MeanDecodeStepTime.TotalMilliseconds:F1} ms at batch {metrics.MeanDecodeBatchSize:F0})");
            var profile = metrics.StepProfile;
            log.WriteLine($"         mean step: schedule {profile.Schedule.TotalMilliseconds:F1} ms, model {profile.Model.TotalMilliseconds:F1} ms, sample {profile.Sample.TotalMilliseconds:F1} ms, apply {profile.Apply.TotalMilliseconds:F1} ms");
            double staticTps = RunStatic(model, prompts, w);
            log.WriteLine($"static:  {staticTps,8:F1} tok/s");
            double naiveTps = RunNaive(model, prompts, w);
            log.WriteLine($"naive:   {naiveTps,8:F1} tok/s  (measured on {w.NaiveSequences} sequences)");

            double meanContext = w.PromptTokens + w.NewTokens / 2.0;
            double embedding = (double)config.VocabSize * config.HiddenSize;
            double flopsPerToken = 2 * (parameters - embedding) + 4.0 * config.NumHiddenLayers * config.NumAttentionHeads * config.HeadDim * meanContext;
            double decodeMfu = metrics.MeanDecodeStepTime.TotalSeconds == 0 ? 0
                : flopsPerToken * metrics.MeanDecodeBatchSize / metrics.MeanDecodeStepTime.TotalSeconds / (peak * 1e9);
            log.WriteLine($"engine / naive: {engineTps / naiveTps:F1}x   engine / static: {engineTps / staticTps:F2}x   decode MFU: {decodeMfu:P1}");
            // The deterministic mode's price: the same engine over the same weights, every row through the batch-invariant kernels.
            using var invariant = ModelLoader.Load(dir, new ModelOptions { CpuKernels = CpuKernels.BatchInvariant });
            var (invariantTps, _) = RunEngine(invariant, prompts, w);
            log.WriteLine($"engine, batch-invariant: {invariantTps,8:F1} tok/s  ({invariantTps / engineTps:P0} of the engine's)");
            return new Dictionary<string, object>
            {
                ["engine_tokens_per_s"] = engineTps,
                ["naive_tokens_per_s"] = naiveTps,
                ["static_tokens_per_s"] = staticTps,
                ["prefix_hit_rate"] = metrics.PrefixCacheHitRate,
                ["decode_mfu"] = decodeMfu,
                ["engine_vs_naive"] = engineTps / naiveTps,
                ["engine_vs_static"] = engineTps / staticTps,
                ["batch_invariant_tokens_per_s"] = invariantTps,
                ["batch_invariant_vs_engine"] = invariantTps / engineTps,
                ["matmul_gflops"] = peak,
                ["decode_step_ms"] = metrics.MeanDecodeStepTime.TotalMilliseconds,
                ["decode_batch"] = metrics.MeanDecodeBatchSize,
                ["parameters"] = parameters,
                ["threads"] = get_num_threads(),
                ["mkl_dispatch"] = MklCpuDispatch.State.ToString(),
            };
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    static (double TokensPerSecond, EngineMetrics Metrics) RunEngine(LoadedModel loaded, int[][] prompts, ThroughputWorkload w)
    {
        long bytesPerToken = PagedKvTensors.BytesPerBlock(loaded.Config, blockSize: 1, loaded.Model.Options.DType);
        var options = new EngineOptions
        {
            KvCacheBytes = (long)(w.Sequences * (w.PromptTokens + w.NewTokens + 32) * bytesPerToken * 1.1),
            MaxNumSequences = w.Sequences,
        };
        using var engine = LlmEngine.Create(loaded, options);
        var sampling = new SamplingParams { N = w.SamplesPerPrompt, Temperature = 1, MaxTokens = w.NewTokens, IgnoreEos = true, Seed = 1 };
        var watch = Stopwatch.StartNew();
        var outputs = engine.Generate(prompts, sampling);
        double seconds = watch.Elapsed.TotalSeconds;
        long generated = outputs.Sum(o => o.Outputs.Sum(c => (long)c.TokenIds.Count));
        return (generated / seconds, engine.Metrics);
    }

    static double RunStatic(CausalLanguageModel model, int[][] prompts, ThroughputWorkload w)
    {
        var device = model.Options.Device;
        int batch = w.Sequences;
        const int PrefillChunk = 64;
        var watch = Stopwatch.StartNew();
        using var noGrad = no_grad();
        using var attention = new StaticBatchAttention(model.Config, batch, w.PromptTokens + w.NewTokens, model.Options.DType, device);
        var generator = new Generator(3, device);
        using var all = NewDisposeScope();
        var tokens = tensor(prompts.SelectMany(p => Enumerable.Repeat(p, w.SamplesPerPrompt)).SelectMany(p => p.Select(t => (long)t)).ToArray(), device: device)
            .view(batch, w.PromptTokens);
        Tensor? next = null;
        for (int start = 0; start < w.PromptTokens; start += PrefillChunk)
        {
            int n = Math.Min(PrefillChunk, w.PromptTokens - start);
            next = Forward(model, attention, tokens.narrow(1, start, n), start, generator);
        }
        for (int step = 1; step < w.NewTokens; step++)
            next = Forward(model, attention, next!.view(batch, 1), w.PromptTokens + step - 1, generator);
        return (double)batch * w.NewTokens / watch.Elapsed.TotalSeconds;
    }

    static Tensor Forward(CausalLanguageModel model, StaticBatchAttention attention, Tensor ids, long firstPosition, Generator generator)
    {
        using var scope = NewDisposeScope();
        long batch = ids.shape[0], n = ids.shape[1];
        attention.BeginStep((int)n);
        var positions = arange(firstPosition, firstPosition + n, ScalarType.Int64, ids.device).repeat(batch);
        var hidden = model.Forward(new ForwardBatch(ids.reshape(-1), positions, attention));
        var lastRows = arange(batch, ScalarType.Int64, ids.device) * n + (n - 1);
        var probs = model.ComputeLogits(hidden, lastRows).softmax(-1);
        return multinomial(probs, 1, generator: generator).view(batch).MoveToOuterDisposeScope();
    }

    static double RunNaive(CausalLanguageModel model, int[][] prompts, ThroughputWorkload w)
    {
        var generator = new ReferenceGenerator(model, useKvCache: true);
        long generated = 0;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < w.NaiveSequences; i++)
        {
            var sampling = new ReferenceSampling { Temperature = 1, Seed = i, MaxTokens = w.NewTokens };
            generated += generator.Generate(prompts[i % prompts.Length], sampling).Count();
        }
        return generated / watch.Elapsed.TotalSeconds;
    }

}
