using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Rollout.Bench.Throughput;
using Rollout.Engine;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models.Loading;
using Rollout.Models.Testing;

namespace Rollout.Bench.Serve;

/// <summary>
/// <c>rollout bench serve</c>: bench throughput's GRPO-shaped workload (one request per prompt, n
/// samples each, all sent at once by concurrent clients) through <c>/rl/generate</c> and through
/// <c>/v1/completions</c> of a <c>rollout serve</c> child process, against the same workload through
/// <see cref="LlmEngine"/> in this process, in one run; then time to first token of streamed
/// requests sent at a fixed rate.
/// </summary>
internal static class ServeBenchmark
{
    const int WarmUpTokens = 8;

    public static IReadOnlyDictionary<string, object> Run(bool quick, TextWriter log)
    {
        var w = quick ? ThroughputWorkload.Quick : ThroughputWorkload.Full;
        string dir = Path.Combine(Path.GetTempPath(), $"rollout-bench-serve-{Environment.ProcessId}");
        try
        {
            TinyModelFactory.Write(dir, "Qwen3ForCausalLM", w.Model);
            var random = new Random(11);
            var prompts = Enumerable.Range(0, w.Prompts)
                .Select(_ => Enumerable.Range(0, w.PromptTokens).Select(_ => random.Next(w.Model.VocabSize)).ToArray()).ToArray();
            long kvBytes;
            double inproc;
            using (var loaded = ModelLoader.Load(dir))
            {
                long bytesPerToken = PagedKvTensors.BytesPerBlock(loaded.Config, blockSize: 1, loaded.Model.Options.DType);
                kvBytes = (long)(w.Sequences * (w.PromptTokens + w.NewTokens + 32) * bytesPerToken * 1.1);
                using var engine = LlmEngine.Create(loaded, new EngineOptions { KvCacheBytes = kvBytes, MaxNumSequences = w.Sequences });
                var sampling = new SamplingParams { N = w.SamplesPerPrompt, Temperature = 1, MaxTokens = w.NewTokens, IgnoreEos = true, Seed = 1 };
                // Every path first runs the whole workload shortened, so JIT tiers and the heap are warm for each alike.
                engine.Generate(prompts, sampling with { MaxTokens = WarmUpTokens });
                var watch = Stopwatch.StartNew();
                var outputs = engine.Generate(prompts, sampling);
                inproc = outputs.Sum(o => o.Outputs.Sum(c => (double)c.TokenIds.Count)) / watch.Elapsed.TotalSeconds;
            }
            log.WriteLine($"workload: {w.Prompts} prompts x {w.SamplesPerPrompt} samples, {w.PromptTokens}-token prompts, {w.NewTokens} new tokens, temperature 1");
            log.WriteLine($"in process:       {inproc,8:F1} tok/s");

            using var server = ServerProcess.Start(
                ["--model", dir, "--port", "0", "--kv-cache-bytes", kvBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 "--max-num-seqs", w.Sequences.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(2));
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(30) };
            object Sampling(int maxTokens) => new Dictionary<string, object>
            {
                ["n"] = w.SamplesPerPrompt, ["temperature"] = 1, ["max_tokens"] = maxTokens, ["ignore_eos"] = true, ["seed"] = 1,
            };
            object Completion(int[] prompt, int maxTokens) => new Dictionary<string, object>
            {
                ["prompt"] = prompt, ["n"] = w.SamplesPerPrompt, ["temperature"] = 1, ["max_tokens"] = maxTokens, ["ignore_eos"] = true, ["seed"] = 1,
            };
            Send(http, "/rl/generate", prompts.Select(p => new { prompts = new[] { p }, sampling = Sampling(WarmUpTokens) }));
            Send(http, "/v1/completions", prompts.Select(p => Completion(p, WarmUpTokens)));
            double rl = Send(http, "/rl/generate", prompts.Select(p => new { prompts = new[] { p }, sampling = Sampling(w.NewTokens) }));
            log.WriteLine($"/rl/generate:     {rl,8:F1} tok/s  ({rl / inproc:F2}x in process)");
            double openai = Send(http, "/v1/completions", prompts.Select(p => Completion(p, w.NewTokens)));
            log.WriteLine($"/v1/completions:  {openai,8:F1} tok/s  ({openai / inproc:F2}x in process)");

            double rate = quick ? 20 : 4;
            int requests = quick ? 20 : 60;
            var ttft = TimeToFirstToken(http, prompts, rate, requests, quick ? 8 : 32);
            log.WriteLine($"TTFT at {rate} req/s ({requests} streamed requests, n 1): p50 {ttft.P50 * 1000:F1} ms, p99 {ttft.P99 * 1000:F1} ms");
            return new Dictionary<string, object>
            {
                ["inproc_tokens_per_s"] = inproc,
                ["rl_generate_tokens_per_s"] = rl,
                ["openai_tokens_per_s"] = openai,
                ["rl_generate_vs_inproc"] = rl / inproc,
                ["openai_vs_inproc"] = openai / inproc,
                ["ttft_rate_per_s"] = rate,
                ["ttft_p50_ms"] = ttft.P50 * 1000,
                ["ttft_p99_ms"] = ttft.P99 * 1000,
            };
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Sends every body at once, each from its own client task; returns generated tokens per second over the wall time.</summary>
    static double Send(HttpClient http, string path, IEnumerable<object> bodies)
    {
        var watch = Stopwatch.StartNew();
        var tokens = Task.WhenAll(bodies.Select(body => Task.Run(async () =>
        {
            using var response = await http.PostAsJsonAsync(path, body);
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return path == "/rl/generate"
                ? json.RootElement.GetProperty("results").EnumerateArray()
                    .Sum(r => r.GetProperty("completions").EnumerateArray().Sum(c => c.GetProperty("token_ids").GetArrayLength()))
                : json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        }))).GetAwaiter().GetResult();
        return tokens.Sum() / watch.Elapsed.TotalSeconds;
    }

    /// <summary>Streamed completions started at <paramref name="rate"/> a second; the p50 and p99 of the time to the first token chunk.</summary>
    static (double P50, double P99) TimeToFirstToken(HttpClient http, int[][] prompts, double rate, int requests, int maxTokens)
    {
        var start = Stopwatch.StartNew();
        var runs = Enumerable.Range(0, requests).Select(i => Task.Run(async () =>
        {
            var due = TimeSpan.FromSeconds(i / rate) - start.Elapsed;
            if (due > TimeSpan.Zero) await Task.Delay(due);
            var sent = Stopwatch.StartNew();
            var body = new Dictionary<string, object>
            {
                ["prompt"] = prompts[i % prompts.Length], ["max_tokens"] = maxTokens, ["temperature"] = 1, ["ignore_eos"] = true, ["stream"] = true,
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = JsonContent.Create(body) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            double? first = null;
            while (await reader.ReadLineAsync() is { } line)
                if (first is null && line.StartsWith("data: {", StringComparison.Ordinal)) first = sent.Elapsed.TotalSeconds;
            return first ?? throw new InvalidOperationException("a streamed completion sent no token");
        })).ToArray();
        var sorted = Task.WhenAll(runs).GetAwaiter().GetResult().Order().ToArray();
        return (Percentile(sorted, 0.5), Percentile(sorted, 0.99));
    }

    static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}
