using Rollout.Engine.Core;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Configuration;
using Rollout.Models.Testing;
using Xunit.Abstractions;

namespace Rollout.Engine.Tests.Speculation;

/// <summary>
/// With speculation the sampled sequences are distributed as without it: on a four-token vocabulary, 8,000
/// four-token completions each way, compared by a chi-square test of homogeneity at significance 0.001 (cells
/// whose pooled count is under 10 merged). The same test run between two sampler settings that differ only a
/// little must reject, which shows it has the power to see a biased verifier at this sample size.
/// </summary>
public class SpeculativeSamplingTests(ITestOutputHelper log)
{
    const int Vocab = 4, Length = 4, Requests = 1000, SamplesPerRequest = 8;
    const double Significance = 0.001;

    static readonly Lazy<CausalLanguageModel> Target = new(() => TinyVocabularyModel(seed: 11));
    static readonly Lazy<CausalLanguageModel> Draft = new(() => TinyVocabularyModel(seed: 29));

    static CausalLanguageModel TinyVocabularyModel(long seed)
    {
        var config = new ModelConfig
        {
            Architecture = "LlamaForCausalLM", VocabSize = Vocab, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1,
            NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 16, MaxPositionEmbeddings = 64,
        };
        var model = (CausalLanguageModel)TransformerModel.Create(config);
        TinyModelFactory.Randomize(model, seed, weightScale: 2);
        return model;
    }

    public static TheoryData<string, string> Settings() => new()
    {
        { "temperature 1", "ngram" },
        { "temperature 0.8, top-p 0.8, repetition 1.3, presence 0.5", "ngram" },
        { "temperature 1.2, top-k 3, min-p 0.05, bias, frequency 0.4, min-tokens 2", "ngram" },
        { "temperature 0.8, top-p 0.8, repetition 1.3, presence 0.5", "draft" },
    };

    static SamplingParams Sampling(string setting) => setting switch
    {
        "temperature 1" => new SamplingParams { Temperature = 1 },
        "temperature 0.8, top-p 0.8, repetition 1.3, presence 0.5" => new SamplingParams { Temperature = 0.8f, TopP = 0.8f, RepetitionPenalty = 1.3f, PresencePenalty = 0.5f },
        "temperature 1.2, top-k 3, min-p 0.05, bias, frequency 0.4, min-tokens 2" => new SamplingParams
        {
            Temperature = 1.2f, TopK = 3, MinP = 0.05f, LogitBias = new Dictionary<int, float> { [2] = 0.7f }, FrequencyPenalty = 0.4f, MinTokens = 2,
        },
        _ => throw new ArgumentException(setting),
    } with { MaxTokens = Length, IgnoreEos = true, N = SamplesPerRequest };

    static SpeculativeOptions Speculation(string proposer) => proposer == "ngram"
        ? new SpeculativeOptions { NumSpeculativeTokens = 3, NGramMin = 1, NGramMax = 2, Adaptive = false, MaxBatchSize = 4096 }
        : new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, DraftModel = Draft.Value, NumSpeculativeTokens = 3, Adaptive = false, DraftKvCacheBytes = 8 << 20, MaxBatchSize = 4096 };

    /// <summary>Counts of each completion (as a base-<see cref="Vocab"/> number) over seeds [firstSeed, firstSeed + Requests).</summary>
    static (long[] Counts, EngineMetrics Metrics) Sample(SamplingParams sampling, SpeculativeOptions? speculation, int firstSeed)
    {
        var options = new EngineOptions { KvCacheBytes = 8 << 20, Speculation = speculation };
        using var core = new EngineCore(Target.Value, null, [], options);
        var counts = new long[(int)Math.Pow(Vocab, Length)];
        for (int r = 0; r < Requests; r++) core.Add($"r{r}", [1, 2, 3, 1, 2], sampling with { Seed = firstSeed + r });
        while (core.HasUnfinished)
        {
            foreach (var output in core.Step())
            {
                if (!output.Finished) continue;
                foreach (var completion in output.Outputs)
                {
                    Assert.Equal(Length, completion.TokenIds.Count);
                    counts[completion.TokenIds.Aggregate(0, (cell, token) => cell * Vocab + token)]++;
                }
            }
        }
        return (counts, core.Metrics());
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void SampledSequencesAreDistributedAsWithoutSpeculation(string setting, string proposer)
    {
        var sampling = Sampling(setting);
        var (plain, _) = Sample(sampling, null, firstSeed: 0);
        var (speculative, metrics) = Sample(sampling, Speculation(proposer), firstSeed: 100_000);
        var (statistic, df, critical) = Homogeneity(plain, speculative);
        log.WriteLine($"{setting} ({proposer}): chi-square {statistic:F1} on {df} df, critical {critical:F1}; " +
            $"{metrics.SpeculativeProposedTokens} proposed, {metrics.SpeculativeAcceptanceRate:P1} accepted");
        Assert.True(metrics.SpeculativeAcceptedTokens > 0 && metrics.SpeculativeAcceptedTokens < metrics.SpeculativeProposedTokens,
            "the verifier must both keep and reject proposals for the test to exercise it");
        Assert.True(statistic < critical, $"{setting} ({proposer}): chi-square {statistic:F1} on {df} df exceeds {critical:F1} (significance {Significance})");
    }

    [Fact]
    public void TheTestSeesASmallChangeOfDistribution()
    {
        var sampling = Sampling("temperature 0.8, top-p 0.8, repetition 1.3, presence 0.5");
        var (a, _) = Sample(sampling, null, firstSeed: 0);
        var (b, _) = Sample(sampling with { Temperature = 0.9f }, null, firstSeed: 100_000);
        var (statistic, df, critical) = Homogeneity(a, b);
        log.WriteLine($"temperature 0.8 against 0.9: chi-square {statistic:F1} on {df} df, critical {critical:F1}");
        Assert.True(statistic > critical, $"temperature 0.8 and 0.9 should be told apart: chi-square {statistic:F1} on {df} df, critical {critical:F1}");
    }

    /// <summary>A seeded request speculates to the same tokens alone as among others: every draw is keyed by its position.</summary>
    [Theory]
    [InlineData("ngram")]
    [InlineData("draft")]
    public void SeededSpeculativeResultsDoNotDependOnTheBatch(string proposer)
    {
        var sampling = Sampling("temperature 0.8, top-p 0.8, repetition 1.3, presence 0.5") with { N = 2, MaxTokens = 12 };
        var options = new EngineOptions { KvCacheBytes = 8 << 20, Speculation = Speculation(proposer) };
        int[][] prompts = [[1, 2, 3, 1, 2], [0, 0, 1], [3, 2, 1, 0, 3, 2], [2]];
        var alone = new List<int[]>();
        foreach (var (prompt, i) in prompts.Select((p, i) => (p, i)))
        {
            using var core = new EngineCore(Target.Value, null, [], options);
            alone.AddRange(RunToEnd(core, [(prompt, i)], sampling));
        }
        using var together = new EngineCore(Target.Value, null, [], options);
        var batched = RunToEnd(together, [.. prompts.Select((p, i) => (p, i)), .. Enumerable.Range(10, 20).Select(s => (prompts[s % 4], s))], sampling);
        Assert.True(together.Metrics().SpeculativeAcceptedTokens > 0, "nothing was accepted: speculation was not exercised");
        Assert.Equal(alone, batched.Take(alone.Count));
    }

    /// <summary>
    /// A seeded sampled request gets the same tokens with speculation as without: every verified position draws with
    /// the number plain decoding would use. (A row computed in another batch shape may move in its last bits and flip a
    /// draw that lands within them of a boundary; one sequence in a hundred is allowed that.)
    /// </summary>
    [Theory]
    [InlineData("ngram")]
    [InlineData("draft")]
    public void SeededSamplesAreTheSameWithSpeculationAsWithout(string proposer)
    {
        var sampling = Sampling("temperature 1.2, top-k 3, min-p 0.05, bias, frequency 0.4, min-tokens 2") with { N = 2, MaxTokens = 12 };
        var requests = Enumerable.Range(0, 100).Select(s => (new[] { 1, 2, 3, 1, 2 }[..(1 + s % 5)], s)).ToArray();
        using var plain = new EngineCore(Target.Value, null, [], new EngineOptions { KvCacheBytes = 8 << 20 });
        using var speculative = new EngineCore(Target.Value, null, [], new EngineOptions { KvCacheBytes = 8 << 20, Speculation = Speculation(proposer) });
        var want = RunToEnd(plain, requests, sampling);
        var got = RunToEnd(speculative, requests, sampling);
        int same = want.Zip(got).Count(p => p.First.SequenceEqual(p.Second));
        Assert.True(speculative.Metrics().SpeculativeAcceptedTokens > 0, "nothing was accepted: speculation was not exercised");
        Assert.True(same >= 0.99 * want.Count, $"{same} of {want.Count} seeded samples are the same with speculation");
    }

    /// <summary>The completions of each (prompt, seed) request, in request order.</summary>
    static List<int[]> RunToEnd(EngineCore core, (int[] Prompt, int Seed)[] requests, SamplingParams sampling)
    {
        var finals = new RequestOutput[requests.Length];
        for (int r = 0; r < requests.Length; r++) core.Add($"r{r}", requests[r].Prompt, sampling with { Seed = requests[r].Seed });
        while (core.HasUnfinished)
            foreach (var output in core.Step())
                if (output.Finished) finals[int.Parse(output.RequestId[1..])] = output;
        return finals.SelectMany(f => f.Outputs.Select(o => o.TokenIds.ToArray())).ToList();
    }

    /// <summary>Pearson's chi-square of homogeneity of two count vectors, its degrees of freedom, and the critical value.</summary>
    static (double Statistic, int Df, double Critical) Homogeneity(long[] a, long[] b)
    {
        var cells = new List<(long A, long B)>();
        long restA = 0, restB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] + b[i] >= 10) cells.Add((a[i], b[i]));
            else
            {
                restA += a[i];
                restB += b[i];
            }
        }
        if (restA + restB > 0) cells.Add((restA, restB));
        double totalA = a.Sum(), totalB = b.Sum(), total = totalA + totalB;
        double statistic = 0;
        foreach (var (x, y) in cells)
        {
            double pooled = (x + y) / total;
            double ea = pooled * totalA, eb = pooled * totalB;
            statistic += (x - ea) * (x - ea) / ea + (y - eb) * (y - eb) / eb;
        }
        int df = cells.Count - 1;
        return (statistic, df, ChiSquareQuantile(df, 1 - Significance));
    }

    /// <summary>Wilson-Hilferty's approximation of the chi-square quantile; z is the normal quantile at 0.999.</summary>
    static double ChiSquareQuantile(int df, double p)
    {
        if (p != 1 - Significance) throw new ArgumentException("only the 0.999 quantile is tabulated", nameof(p));
        const double z = 3.0902;
        double h = 2.0 / (9 * df);
        return df * Math.Pow(1 - h + z * Math.Sqrt(h), 3);
    }
}
