using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Generation;
using Rollout.Models.Loading;
using Rollout.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Modeling;

/// <summary>
/// The C# forward against HF transformers itself: tests/fixtures/hf holds tiny random models built and
/// run by transformers 5.17 (tools/hf-fixtures/make_fixtures.py) with the logits it computed.
/// </summary>
public class HfTransformersParityTests
{
    const double Tolerance = 1e-4;

    public static IEnumerable<object[]> CausalFixtures =>
        new[] { "llama-llama3-rope", "llama-linear-rope-tied", "qwen2", "qwen3", "mistral" }.Select(n => new object[] { n });

    static string FixtureDir(string name) => Path.Combine(TestPaths.RepoFixtures, "hf", name);

    static (long[] Ids, float[,] Logits) Expected(string name, string key)
    {
        using var file = SafetensorsFile.Open(Path.Combine(FixtureDir(name), "expected.safetensors"));
        using var ids = file.Read("input_ids");
        using var values = file.Read(key);
        var flat = values.data<float>().ToArray();
        int rows = values.dim() == 1 ? 1 : (int)values.shape[0];
        var matrix = new float[rows, flat.Length / rows];
        Buffer.BlockCopy(flat, 0, matrix, 0, flat.Length * sizeof(float));
        return (ids.data<long>().ToArray(), matrix);
    }

    [Theory]
    [MemberData(nameof(CausalFixtures))]
    public void FullForwardMatchesTransformers(string name)
    {
        var (ids, expected) = Expected(name, "logits");
        using var loaded = ModelLoader.Load(FixtureDir(name));
        var generator = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: false);
        LogitAssert.Close(expected, generator.AllLogits(ids.Select(i => (int)i).ToArray()), Tolerance, name);
    }

    [Theory]
    [MemberData(nameof(CausalFixtures))]
    public void CachedForwardMatchesTransformers(string name)
    {
        var (ids, expected) = Expected(name, "logits");
        using var loaded = ModelLoader.Load(FixtureDir(name));
        var generator = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: true);
        int[] chunks = [13, 1, 1, 9, 1, 15];
        LogitAssert.Close(expected, generator.AllLogitsCached(ids.Select(i => (int)i).ToArray(), chunks), Tolerance, name);
    }

    [Fact]
    public void RewardHeadMatchesTransformers()
    {
        var (ids, expected) = Expected("llama-reward", "score");
        using var loaded = ModelLoader.Load(FixtureDir("llama-reward"));
        var model = Assert.IsType<SequenceClassificationModel>(loaded.Model);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hidden = model.Forward(new ForwardBatch(tensor(ids), arange(ids.Length, ScalarType.Int64),
            new Attention.UncachedAttention([ids.Length])));
        var score = model.ComputeScores(hidden, tensor(new long[] { ids.Length - 1 })).data<float>().ToArray();
        Assert.Single(score);
        Assert.True(Math.Abs(score[0] - expected[0, 0]) <= Tolerance, $"score {score[0]} vs transformers {expected[0, 0]}");
    }

    [Fact]
    public void Bfloat16ForwardStaysCloseToFloat32()
    {
        var (ids, expected) = Expected("qwen3", "logits");
        using var loaded = ModelLoader.Load(FixtureDir("qwen3"), new ModelOptions { DType = ScalarType.BFloat16 });
        var logits = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: true)
            .AllLogitsCached(ids.Select(i => (int)i).ToArray(), [20, 20]);
        double mean = 0;
        int argmaxAgree = 0;
        int rows = expected.GetLength(0), cols = expected.GetLength(1);
        for (int r = 0; r < rows; r++)
        {
            int e = 0, a = 0;
            for (int c = 0; c < cols; c++)
            {
                mean += Math.Abs(expected[r, c] - logits[r, c]) / (rows * cols);
                if (expected[r, c] > expected[r, e]) e = c;
                if (logits[r, c] > logits[r, a]) a = c;
            }
            if (e == a) argmaxAgree++;
        }
        Assert.True(mean < 0.05, $"bf16 mean |logit diff| {mean:F4} vs fp32 transformers");
        Assert.True(argmaxAgree >= rows * 0.9, $"bf16 argmax agreed on {argmaxAgree}/{rows} rows");
    }
}
