using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Engine.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Sampling;

public class SamplerTests
{
    static readonly int[] NoTokens = [];

    static SamplingRow Row(SamplingParams p, int[]? prompt = null, int[]? output = null, int sampleIndex = 0, int[]? eos = null) =>
        new(p, prompt ?? NoTokens, output ?? NoTokens, sampleIndex, eos ?? NoTokens);

    static Tensor Logits(float[][] rows) => tensor(rows.SelectMany(r => r).ToArray(), rows.Length, rows[0].Length);

    static SamplerOutput Sample(float[][] logits, params SamplingRow[] rows)
    {
        using var t = Logits(logits);
        return new Sampler(new Random(1)).Sample(t, rows);
    }

    // Half-integer logits: ties are frequent, so every filter boundary meets some.
    static float[] TiedLogits(Random random, int vocab) => Enumerable.Range(0, vocab).Select(_ => random.Next(-8, 9) * 0.5f).ToArray();

    static float[] GaussianLogits(Random random, int vocab) =>
        Enumerable.Range(0, vocab).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) * 3)).ToArray();

    static SamplingRow RandomRow(Random random, int vocab, LogprobsMode mode, int? logprobs)
    {
        float Pick(params float[] values) => values[random.Next(values.Length)];
        int[] Tokens(int max) => Enumerable.Range(0, random.Next(max + 1)).Select(_ => random.Next(vocab)).ToArray();
        var p = new SamplingParams
        {
            Temperature = Pick(0f, 0.5f, 1f, 1.7f),
            TopK = random.Next(4) == 0 ? 0 : random.Next(-1, vocab + 2),
            TopP = random.Next(2) == 0 ? 1f : (float)random.NextDouble() * 0.99f + 0.01f,
            MinP = random.Next(2) == 0 ? 0f : (float)random.NextDouble() * 0.5f,
            RepetitionPenalty = Pick(1f, 0.8f, 1.3f, 2f),
            PresencePenalty = Pick(0f, 0.5f, -0.7f),
            FrequencyPenalty = Pick(0f, 0.25f, 1.5f),
            LogitBias = random.Next(3) == 0 ? new Dictionary<int, float> { [random.Next(vocab)] = Pick(-3f, 2.5f, 50f) } : new Dictionary<int, float>(),
            StopTokenIds = random.Next(2) == 0 ? [random.Next(vocab)] : [],
            MinTokens = random.Next(4),
            IgnoreEos = random.Next(4) == 0,
            Seed = random.Next(3) == 0 ? null : random.NextInt64(),
            Logprobs = logprobs,
            LogprobsMode = mode,
        };
        p.Validate(vocab);
        return Row(p, Tokens(6), Tokens(5), random.Next(4), [vocab - 1]);
    }

    static Dictionary<int, float> ById(ScoredToken token) => token.TopLogprobs.ToDictionary(t => t.TokenId, t => t.Logprob);

    [Fact]
    public void ProcessedLogprobsMatchThePerRowReferenceOfEveryTransform()
    {
        // With vocab <= 20, asking for vocab alternatives returns the whole processed distribution.
        const int vocab = 16;
        var random = new Random(42);
        for (int batch = 0; batch < 8; batch++)
        {
            var logits = Enumerable.Range(0, 32).Select(_ => TiedLogits(random, vocab)).ToArray();
            var rows = logits.Select(_ => RandomRow(random, vocab, LogprobsMode.Processed, vocab)).ToArray();
            var output = Sample(logits, rows);
            for (int r = 0; r < rows.Length; r++)
            {
                var expected = SamplerReference.ProcessedLogprobs(logits[r], rows[r]);
                var actual = ById(output.Tokens[r]);
                Assert.Equal(vocab, actual.Count);
                for (int id = 0; id < vocab; id++)
                {
                    Assert.True(double.IsFinite(expected[id]) == float.IsFinite(actual[id]), $"batch {batch} row {r} token {id}: kept must match the reference ({expected[id]} vs {actual[id]})");
                    if (double.IsFinite(expected[id])) Assert.Equal(expected[id], actual[id], 1e-4);
                }
                int token = output.Tokens[r].TokenId;
                Assert.True(double.IsFinite(expected[token]), $"row {r} sampled filtered-out token {token}");
                Assert.Equal(expected[token], output.Tokens[r].Logprob!.Value, 1e-4);
                if (rows[r].Params.IsGreedy)
                    Assert.Equal(SamplerReference.Argmax(SamplerReference.TransformLogits(logits[r], rows[r])), token);
            }
        }
    }

    [Theory]
    [InlineData(2, 1f, 0f, new[] { 0, 1, 2, 3 })] // k = 2 lands inside the run of 2s
    [InlineData(1, 1f, 0f, new[] { 0 })]
    [InlineData(0, 0.5f, 0f, new[] { 0, 1, 2, 3 })] // the mass reaches 0.5 inside the run of 2s
    [InlineData(0, 0.3f, 0f, new[] { 0 })]
    [InlineData(0, 1f, 0.45f, new[] { 0, 1, 2, 3 })]
    [InlineData(0, 1f, 0.75f, new[] { 0 })]
    [InlineData(4, 0.99f, 0f, new[] { 0, 1, 2, 3 })] // top-p on the renormalised top 4 keeps all four
    public void FiltersKeepWholeRunsOfTiesAtTheirBoundary(int topK, float topP, float minP, int[] kept)
    {
        // Probabilities proportional to 4, 2, 2, 2, 1, 1.
        float[] logits = [MathF.Log(4), MathF.Log(2), MathF.Log(2), MathF.Log(2), 0, 0];
        var p = new SamplingParams { TopK = topK, TopP = topP, MinP = minP, Logprobs = logits.Length, LogprobsMode = LogprobsMode.Processed, Seed = 3 };
        var output = Sample([logits], Row(p));
        var finite = ById(output.Tokens[0]).Where(kv => float.IsFinite(kv.Value)).Select(kv => kv.Key).Order();
        Assert.Equal(kept, finite);
        Assert.Contains(output.Tokens[0].TokenId, kept);
    }

    [Fact]
    public void PenaltiesFollowTheHfAndOpenAiFormulas()
    {
        float[] logits = [2, 2, -2, -2, 0, 1];
        var p = new SamplingParams { RepetitionPenalty = 2, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f, Logprobs = 6, LogprobsMode = LogprobsMode.Processed };
        var output = Sample([logits], Row(p, prompt: [0, 2], output: [3, 3, 5]));
        // Repetition on prompt and output tokens: 2 / 2, -2 * 2, -2 * 2; frequency and presence on output tokens only.
        float[] expected = [1, 2, -4, -4 - 2 * 0.5f - 0.25f, 0, 0.5f - 0.5f - 0.25f];
        var lp = ById(output.Tokens[0]);
        for (int id = 0; id < logits.Length; id++) Assert.Equal(expected[id] - expected[4], lp[id] - lp[4], 1e-5);
    }

    [Fact]
    public void GreedyPicksTheArgmaxWithTheLowestIdOnTies()
    {
        var random = new Random(5);
        var logits = Enumerable.Range(0, 6).Select(_ => GaussianLogits(random, 3000)).ToArray();
        logits[1][700] = logits[1][2500] = 50;
        logits[4][10] = logits[4][11] = logits[4][12] = 50;
        var rows = Enumerable.Range(0, 6).Select(i => Row(new SamplingParams { Temperature = 0, TopK = 50, Seed = i % 2 == 0 ? i : null })).ToArray();
        var output = Sample(logits, rows);
        Assert.Equal(logits.Select(SamplerReference.Argmax), output.Tokens.Select(t => t.TokenId));
        Assert.Equal(700, output.Tokens[1].TokenId);
        Assert.Equal(10, output.Tokens[4].TokenId);
    }

    [Fact]
    public void RawLogprobsAreTheModelsLogSoftmaxWhateverTheParameters()
    {
        const int vocab = 50;
        var random = new Random(9);
        var logits = Enumerable.Range(0, 12).Select(_ => GaussianLogits(random, vocab)).ToArray();
        var rows = logits.Select(_ => RandomRow(random, vocab, LogprobsMode.Raw, 5)).ToArray();
        var output = Sample(logits, rows);
        for (int r = 0; r < rows.Length; r++)
        {
            var expected = SamplerReference.LogSoftmax(logits[r]);
            var token = output.Tokens[r];
            Assert.Equal(expected[token.TokenId], token.Logprob!.Value, 1e-5);
            Assert.Equal(expected.OrderDescending().Take(5), token.TopLogprobs.Select(t => (double)t.Logprob), new ToleranceComparer(1e-5));
            foreach (var alternative in token.TopLogprobs) Assert.Equal(expected[alternative.TokenId], alternative.Logprob, 1e-5);
        }
    }

    [Fact]
    public void RowsMixingModesGetTheirOwnLogprobsAndRowsNotAskingGetNone()
    {
        float[] logits = [1, 3, 0, -1];
        var raw = new SamplingParams { Temperature = 0.5f, TopK = 1, Logprobs = 2, LogprobsMode = LogprobsMode.Raw };
        var processed = raw with { LogprobsMode = LogprobsMode.Processed };
        var none = raw with { Logprobs = null };
        var output = Sample([logits, logits, logits], Row(raw), Row(processed), Row(none));
        Assert.Equal(SamplerReference.LogSoftmax(logits)[1], output.Tokens[0].Logprob!.Value, 1e-5);
        Assert.Equal(0f, output.Tokens[1].Logprob!.Value, 1e-6);
        Assert.Equal(float.NegativeInfinity, output.Tokens[1].TopLogprobs[1].Logprob);
        Assert.Null(output.Tokens[2].Logprob);
        Assert.Empty(output.Tokens[2].TopLogprobs);
        Assert.All(output.Tokens, t => Assert.Equal(1, t.TokenId));
    }

    [Fact]
    public void MinTokensMasksEosAndStopTokensUntilReached()
    {
        float[] logits = [0, 1, 2, 3, 4, 9, 0, 10];
        var p = new SamplingParams { Temperature = 0, MinTokens = 3, StopTokenIds = [5] };
        int[] eos = [7];
        var output = Sample([logits, logits, logits],
            Row(p, output: [1, 2], eos: eos),
            Row(p, output: [1, 2, 3], eos: eos),
            Row(p with { IgnoreEos = true }, output: [1, 2], eos: eos));
        Assert.Equal([4, 7, 7], output.Tokens.Select(t => t.TokenId));
    }

    [Fact]
    public void LogitBiasShiftsTheChosenToken()
    {
        float[] logits = [0, 5, 1, 4.5f];
        var output = Sample([logits, logits],
            Row(new SamplingParams { Temperature = 0, LogitBias = new Dictionary<int, float> { [2] = 100 } }),
            Row(new SamplingParams { Temperature = 0, LogitBias = new Dictionary<int, float> { [1] = -100 } }));
        Assert.Equal([2, 3], output.Tokens.Select(t => t.TokenId));
    }

    [Theory]
    [InlineData(0.8f, 0, 1f, 0f, true)]
    [InlineData(1.3f, 0, 1f, 0f, false)]
    [InlineData(1f, 4, 0.8f, 0.05f, true)]
    public void DrawsFollowTheProcessedDistribution(float temperature, int topK, float topP, float minP, bool seeded)
    {
        const int draws = 20_000;
        float[] logits = [1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f, 0.7f];
        var p = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP };
        var rows = Enumerable.Range(0, draws).Select(i => Row(p with { Seed = seeded ? i : null })).ToArray();
        var output = Sample(Enumerable.Repeat(logits, draws).ToArray(), rows);

        var expected = SamplerReference.Softmax(logits.Select(l => l / temperature).ToArray(), SamplerReference.Keep(logits.Select(l => l / temperature).ToArray(), p));
        var observed = new double[logits.Length];
        foreach (var token in output.Tokens) observed[token.TokenId] += 1.0 / draws;
        for (int id = 0; id < logits.Length; id++)
            Assert.True(Math.Abs(expected[id] - observed[id]) < 0.02, $"token {id}: expected {expected[id]:F4}, observed {observed[id]:F4}");
        Assert.All(output.Tokens, t => Assert.True(expected[t.TokenId] > 0));
    }

    public record SeededCase(int BatchSeed, int Slot);

    [Property(MaxTest = 25)]
    public Property ASeededRowDrawsTheSameTokenAloneOrInAnyBatch() =>
        Prop.ForAll(Gen.Zip(Gen.Choose(0, 1_000_000), Gen.Choose(0, 31), (seed, slot) => new SeededCase(seed, slot)).ToArbitrary(), c =>
        {
            const int vocab = 1000;
            var random = new Random(c.BatchSeed);
            var mode = random.Next(2) == 0 ? LogprobsMode.Raw : LogprobsMode.Processed;
            var logits = Enumerable.Range(0, 32).Select(_ => GaussianLogits(random, vocab)).ToArray();
            var rows = logits.Select(_ => RandomRow(random, vocab, mode, random.Next(3))).ToArray();
            var target = rows[c.Slot] with { Params = rows[c.Slot].Params with { Seed = random.NextInt64(), Temperature = 1.1f } };
            rows[c.Slot] = target;

            using var batch = Logits(logits);
            using var single = Logits([logits[c.Slot]]);
            var inBatch = new Sampler(new Random(c.BatchSeed)).Sample(batch, rows).Tokens[c.Slot];
            var alone = new Sampler(new Random(~c.BatchSeed)).Sample(single, [target]).Tokens[0];
            return inBatch.TokenId == alone.TokenId && inBatch.Logprob == alone.Logprob && inBatch.TopLogprobs.SequenceEqual(alone.TopLogprobs);
        });

    [Fact]
    public void TheSameSeedIndexAndPositionGiveTheSameDrawAndOthersDiffer()
    {
        const int vocab = 4096;
        var random = new Random(11);
        var logits = GaussianLogits(random, vocab).Select(l => l / 10).ToArray();
        var p = new SamplingParams { Seed = 1234 };
        SamplingRow At(int index, int position) => Row(p, output: Enumerable.Repeat(0, position).ToArray(), sampleIndex: index);
        var output = Sample([logits, logits, logits, logits], At(0, 3), At(0, 3), At(1, 3), At(0, 4));
        Assert.Equal(output.Tokens[0].TokenId, output.Tokens[1].TokenId);
        // A near-uniform distribution over 4096 tokens: a different key repeating the token would be a 1-in-4096 accident.
        Assert.NotEqual(output.Tokens[0].TokenId, output.Tokens[2].TokenId);
        Assert.NotEqual(output.Tokens[0].TokenId, output.Tokens[3].TokenId);
    }

    [Fact]
    public void SamplingLeavesNoTensorAlive()
    {
        var random = new Random(3);
        var logits = Enumerable.Range(0, 8).Select(_ => GaussianLogits(random, 64)).ToArray();
        var rows = logits.Select((_, i) => RandomRow(random, 64, i % 2 == 0 ? LogprobsMode.Raw : LogprobsMode.Processed, 3)).ToArray();
        using var input = Logits(logits);
        var sampler = new Sampler(new Random(1));
        sampler.Sample(input, rows);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (zeros(1)) Assert.Equal(before + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount); // the counter does see tensors
        sampler.Sample(input, rows);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void LogitsOfTheWrongShapeAreRejected()
    {
        using var logits = zeros(3, 5);
        Assert.Throws<ArgumentException>(() => new Sampler().Sample(logits, [Row(new SamplingParams())]));
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double value) => 0;
    }
}
