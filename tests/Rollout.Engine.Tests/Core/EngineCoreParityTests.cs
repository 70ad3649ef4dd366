using Rollout.Engine.Core;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Generation;
using Xunit.Abstractions;

namespace Rollout.Engine.Tests.Core;

/// <summary>
/// Greedy outputs of the engine equal the reference generator's, token for token, for 200 random
/// prompts (many sharing prefixes) arriving at random steps, under every scheduling regime. Batched
/// arithmetic may differ from unbatched in the last bits, so a divergence is accepted only where the
/// reference's top two logits are within 1e-4, and counted. Every regime runs on the CPU fast path and
/// on libtorch's operations alone (<see cref="CpuKernels"/>).
/// </summary>
public class EngineCoreParityTests(ITestOutputHelper log)
{
    const int Requests = 200;
    const double NearTie = 1e-4;

    public static IEnumerable<object[]> Regimes() =>
        from arch in new[] { "Qwen3ForCausalLM", "MistralForCausalLM" }
        from regime in new[] { "prefix+chunked", "no-prefix,no-chunking", "small-pool-preemption", "tiny-budget" }
        from kernels in new[] { CpuKernels.Fast, CpuKernels.Reference }
        select new object[] { arch, regime, kernels };

    static EngineOptions OptionsFor(string regime) => regime switch
    {
        "prefix+chunked" => new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 256 },
        "no-prefix,no-chunking" => new EngineOptions { KvCacheBytes = 4 << 20, PrefixCaching = false, ChunkedPrefill = false, MaxNumBatchedTokens = 512 },
        "small-pool-preemption" => new EngineOptions { KvCacheBytes = 0, MaxNumBatchedTokens = 256 },
        "tiny-budget" => new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 24, MaxNumSequences = 8 },
        _ => throw new ArgumentException(regime),
    };

    sealed record Case(int[] Prompt, int MaxTokens, int[] Expected, float[] Margins);

    static readonly Dictionary<string, Case[]> References = [];

    static Case[] ReferenceCases(string architecture)
    {
        lock (References)
        {
            if (References.TryGetValue(architecture, out var cached)) return cached;
            var model = (CausalLanguageModel)TinyEngine.Model(architecture).Model;
            var generator = new ReferenceGenerator(model, useKvCache: true);
            var random = new Random(2024);
            int vocab = model.Config.VocabSize;
            var prefixes = Enumerable.Range(0, 6).Select(_ => RandomTokens(random, random.Next(16, 48), vocab)).ToArray();
            var cases = new Case[Requests];
            for (int i = 0; i < Requests; i++)
            {
                int[] prompt = random.Next(3) == 0
                    ? RandomTokens(random, random.Next(1, 70), vocab)
                    : [.. prefixes[random.Next(prefixes.Length)], .. RandomTokens(random, random.Next(0, 24), vocab)];
                int maxTokens = random.Next(1, 20);
                var expected = generator.Generate(prompt, new ReferenceSampling { MaxTokens = maxTokens }).ToArray();
                var logits = generator.AllLogits([.. prompt, .. expected]);
                var margins = new float[expected.Length];
                for (int t = 0; t < expected.Length; t++) margins[t] = TopTwoMargin(logits, prompt.Length - 1 + t);
                cases[i] = new Case(prompt, maxTokens, expected, margins);
            }
            References[architecture] = cases;
            return cases;
        }
    }

    [Theory]
    [MemberData(nameof(Regimes))]
    public void GreedyOutputsEqualTheReferenceGenerator(string architecture, string regime, CpuKernels kernels)
    {
        var cases = ReferenceCases(architecture);
        var options = OptionsFor(regime);
        if (regime == "small-pool-preemption")
        {
            // Room for about three long sequences at once: the test needs preemption to happen.
            var config = TinyEngine.Model(architecture).Config;
            options = options with { KvCacheBytes = 18 * PagedKvTensors.BytesPerBlock(config, options.BlockSize, TorchSharp.torch.ScalarType.Float32) };
        }
        using var core = TinyEngine.Core(architecture, options, kernels);
        var random = new Random(regime.Length * 31 + architecture.Length);
        var finals = new Dictionary<string, RequestOutput>();
        int next = 0;
        while (next < cases.Length || core.HasUnfinished)
        {
            for (int k = random.Next(0, 9); k > 0 && next < cases.Length; k--, next++)
                core.Add($"r{next}", cases[next].Prompt, new SamplingParams { Temperature = 0, MaxTokens = cases[next].MaxTokens, IgnoreEos = true });
            foreach (var output in core.Step())
                if (output.Finished) finals[output.RequestId] = output;
        }

        int exact = 0, nearTieDivergences = 0;
        for (int i = 0; i < cases.Length; i++)
        {
            var got = finals[$"r{i}"].Outputs[0].TokenIds;
            var want = cases[i].Expected;
            int d = 0;
            while (d < Math.Min(got.Count, want.Length) && got[d] == want[d]) d++;
            if (d == want.Length && got.Count == want.Length)
            {
                exact++;
                continue;
            }
            Assert.True(d < want.Length && cases[i].Margins[d] <= NearTie,
                $"{architecture} {regime} {kernels} request {i}: diverged at token {d} (engine {Show(got)}, reference {Show(want)}), reference margin {(d < want.Length ? cases[i].Margins[d] : float.NaN)}");
            nearTieDivergences++;
        }
        var metrics = core.Metrics();
        log.WriteLine($"{architecture} {regime} {kernels}: {exact}/{cases.Length} identical, {nearTieDivergences} near-tie divergences, " +
                      $"{metrics.Steps} steps, {metrics.Preemptions} preemptions, prefix hit rate {metrics.PrefixCacheHitRate:P1}");
        if (regime == "small-pool-preemption") Assert.True(metrics.Preemptions > 0, "the small pool should have forced preemption");
        if (regime == "prefix+chunked") Assert.True(metrics.PrefixCacheHitRate > 0.2, $"shared prefixes should hit the cache, hit rate {metrics.PrefixCacheHitRate:P1}");
        if (regime == "no-prefix,no-chunking") Assert.Equal(0, metrics.PrefixCacheHitRate);
    }

    static string Show(IReadOnlyList<int> tokens) => "[" + string.Join(",", tokens) + "]";

    static int[] RandomTokens(Random random, int count, int vocab) => Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();

    static float TopTwoMargin(float[,] logits, int row)
    {
        float best = float.NegativeInfinity, second = float.NegativeInfinity;
        for (int c = 0; c < logits.GetLength(1); c++)
        {
            float v = logits[row, c];
            if (v > best) (best, second) = (v, best);
            else if (v > second) second = v;
        }
        return best - second;
    }
}
