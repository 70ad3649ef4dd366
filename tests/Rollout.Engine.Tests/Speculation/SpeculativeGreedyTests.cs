using Rollout.Engine.Core;
using Rollout.Engine.Tests.Core;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Xunit.Abstractions;

namespace Rollout.Engine.Tests.Speculation;

/// <summary>
/// Greedy outputs with speculation equal those without, token for token, for both proposers, over many prompts
/// (copy-heavy and random, many sharing prefixes) arriving at random steps, with prefix-cache hits, preemption
/// and a token budget that cuts proposals. A verified row's arithmetic differs from a plain decode's only in the
/// batched matrix products' last bits, so a divergence is accepted only where the plain run's top two logits are
/// within 1e-4, and counted.
/// </summary>
public class SpeculativeGreedyTests(ITestOutputHelper log)
{
    const int Requests = 120;
    const double NearTie = 1e-4;

    public static IEnumerable<object[]> Regimes() =>
        from proposer in new[] { "ngram", "draft-other", "draft-self" }
        from regime in new[] { "prefix", "small-pool-preemption", "tiny-budget" }
        from arch in new[] { "Qwen3ForCausalLM", "MistralForCausalLM" }
        select new object[] { proposer, regime, arch };

    static EngineOptions Options(string regime, string architecture) => regime switch
    {
        "prefix" => new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 256 },
        // Room for about three long sequences: preemption has to happen.
        "small-pool-preemption" => new EngineOptions
        {
            KvCacheBytes = 18 * PagedKvTensors.BytesPerBlock(TinyEngine.Model(architecture).Config, 16, TorchSharp.torch.ScalarType.Float32),
            MaxNumBatchedTokens = 256,
        },
        "tiny-budget" => new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 24, MaxNumSequences = 8 },
        _ => throw new ArgumentException(regime),
    };

    internal static SpeculativeOptions Speculation(string proposer, string architecture) => proposer switch
    {
        "ngram" => new SpeculativeOptions { Method = SpeculativeMethod.NGram, NumSpeculativeTokens = 5, NGramMin = 1, NGramMax = 3, Adaptive = false },
        "draft-other" => new SpeculativeOptions
        {
            Method = SpeculativeMethod.DraftModel, NumSpeculativeTokens = 3, Adaptive = false, DraftKvCacheBytes = 1 << 20,
            DraftModel = (CausalLanguageModel)TinyEngine.Model("LlamaForCausalLM").Model,
        },
        "draft-self" => new SpeculativeOptions
        {
            Method = SpeculativeMethod.DraftModel, NumSpeculativeTokens = 4, Adaptive = false, DraftKvCacheBytes = 1 << 20,
            DraftModel = (CausalLanguageModel)TinyEngine.Model(architecture).Model,
        },
        _ => throw new ArgumentException(proposer),
    };

    /// <summary>Prompts that copy (a random run repeated) and random ones, a third sharing one of six prefixes.</summary>
    internal static (int[] Prompt, int MaxTokens)[] Cases(int count, int vocab, int seed)
    {
        var random = new Random(seed);
        var prefixes = Enumerable.Range(0, 6).Select(_ => Tokens(random, random.Next(16, 40), vocab)).ToArray();
        return Enumerable.Range(0, count).Select(_ =>
        {
            var run = Tokens(random, random.Next(3, 12), vocab);
            int[] body = random.Next(2) == 0 ? [.. run, .. run, .. run[..(run.Length / 2)]] : Tokens(random, random.Next(1, 30), vocab);
            int[] prompt = random.Next(3) == 0 ? [.. prefixes[random.Next(prefixes.Length)], .. body] : body;
            return (prompt, random.Next(1, 28));
        }).ToArray();
    }

    static int[] Tokens(Random random, int count, int vocab) => Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();

    /// <summary>Runs every case to its end, adding a few at random steps; the final outputs by case.</summary>
    internal static RequestOutput[] RunAll(EngineCore core, (int[] Prompt, int MaxTokens)[] cases, SamplingParams sampling, int arrivalSeed)
    {
        var random = new Random(arrivalSeed);
        var finals = new RequestOutput[cases.Length];
        int next = 0;
        while (next < cases.Length || core.HasUnfinished)
        {
            for (int k = random.Next(0, 9); k > 0 && next < cases.Length; k--, next++)
                core.Add($"r{next}", cases[next].Prompt, sampling with { MaxTokens = cases[next].MaxTokens });
            foreach (var output in core.Step())
                if (output.Finished) finals[int.Parse(output.RequestId[1..])] = output;
        }
        return finals;
    }

    [Theory]
    [MemberData(nameof(Regimes))]
    public void GreedyOutputsEqualThoseWithoutSpeculation(string proposer, string regime, string architecture)
    {
        var vocab = TinyEngine.Model(architecture).Config.VocabSize;
        var cases = Cases(Requests, vocab, seed: 7);
        var greedy = new SamplingParams { Temperature = 0, IgnoreEos = true, Logprobs = 2 };
        var options = Options(regime, architecture);
        RequestOutput[] plain, speculative;
        EngineMetrics metrics;
        using (var core = TinyEngine.Core(architecture, options)) plain = RunAll(core, cases, greedy, arrivalSeed: 3);
        using (var core = TinyEngine.Core(architecture, options with { Speculation = Speculation(proposer, architecture) }))
        {
            speculative = RunAll(core, cases, greedy, arrivalSeed: 3);
            metrics = core.Metrics();
        }

        int exact = 0, nearTies = 0;
        for (int i = 0; i < cases.Length; i++)
        {
            var want = plain[i].Outputs[0];
            var got = speculative[i].Outputs[0];
            int d = 0;
            while (d < Math.Min(got.TokenIds.Count, want.TokenIds.Count) && got.TokenIds[d] == want.TokenIds[d]) d++;
            if (d == want.TokenIds.Count && got.TokenIds.Count == want.TokenIds.Count)
            {
                exact++;
                Assert.Equal(want.WeightVersions, got.WeightVersions);
                for (int t = 0; t < want.Logprobs!.Count; t++) Assert.Equal(want.Logprobs[t], got.Logprobs![t], 1e-4f);
                continue;
            }
            var top = want.TopLogprobs![d];
            float margin = top[0].Logprob - top[1].Logprob;
            Assert.True(margin <= NearTie,
                $"{proposer} {regime} {architecture} request {i}: diverged at token {d} of {want.TokenIds.Count}, where the plain run's top-two margin is {margin}");
            nearTies++;
        }
        log.WriteLine($"{proposer} {regime} {architecture}: {exact}/{cases.Length} identical, {nearTies} near-tie divergences; " +
            $"{metrics.SpeculativeProposedTokens} proposed, {metrics.SpeculativeAcceptanceRate:P1} accepted, {metrics.MeanAcceptedLength:F2} kept per verify, " +
            $"{metrics.Steps} steps, {metrics.Preemptions} preemptions, prefix hit rate {metrics.PrefixCacheHitRate:P1}");
        Assert.True(metrics.SpeculativeAcceptedTokens > 0, "speculation never kept a token: the test exercised nothing");
        if (proposer != "draft-self") Assert.True(metrics.SpeculativeAcceptedTokens < metrics.SpeculativeProposedTokens, "no proposal was ever rejected: rollback went untested");
        if (regime == "small-pool-preemption") Assert.True(metrics.Preemptions > 0, "the small pool should have forced preemption");
        if (regime == "prefix") Assert.True(metrics.PrefixCacheHitRate > 0.1, $"shared prefixes should hit the cache, hit rate {metrics.PrefixCacheHitRate:P1}");
    }
}
