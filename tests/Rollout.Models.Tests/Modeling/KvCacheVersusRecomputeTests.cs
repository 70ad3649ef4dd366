using Rollout.Models.Generation;
using Rollout.Models.Loading;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Modeling;

/// <summary>The KV-cached forward must equal full recomputation for every architecture, at many prompt lengths.</summary>
public class KvCacheVersusRecomputeTests
{
    const double Tolerance = 1e-4;

    public static IEnumerable<object[]> Architectures => TinyModels.CausalArchitectures;

    [Theory]
    [MemberData(nameof(Architectures))]
    public void CachedLogitsEqualRecomputedLogits(string architecture)
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory(architecture));
        var generator = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: true);
        var random = new Random(architecture.Length);
        foreach (int length in new[] { 1, 2, 7, 15, 16, 17, 33, 64, 97 })
        {
            var tokens = Enumerable.Range(0, length).Select(_ => random.Next(loaded.Config.VocabSize)).ToArray();
            var full = generator.AllLogits(tokens);
            LogitAssert.Close(full, generator.AllLogitsCached(tokens, OneByOne(length)), Tolerance, $"{architecture} len {length} one token a step");
            LogitAssert.Close(full, generator.AllLogitsCached(tokens, RandomChunks(length, random)), Tolerance, $"{architecture} len {length} random chunks");
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void GreedyGenerationIsTheSameWithAndWithoutCache(string architecture)
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory(architecture));
        var model = (CausalLanguageModel)loaded.Model;
        var sampling = new ReferenceSampling { MaxTokens = 24 };
        int[] prompt = [5, 77, 300, 12, 9];
        var cached = new ReferenceGenerator(model, useKvCache: true).Generate(prompt, sampling).ToArray();
        var recomputed = new ReferenceGenerator(model, useKvCache: false).Generate(prompt, sampling).ToArray();
        Assert.Equal(recomputed, cached);
        Assert.Equal(24, cached.Length);
    }

    [Fact]
    public void SeededSamplingReproducesAndSeedsDiffer()
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory("Qwen3ForCausalLM"));
        var generator = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: true);
        int[] prompt = [1, 2, 3];
        var a = generator.Generate(prompt, new ReferenceSampling { Temperature = 1.0, Seed = 7, MaxTokens = 32 }).ToArray();
        var b = generator.Generate(prompt, new ReferenceSampling { Temperature = 1.0, Seed = 7, MaxTokens = 32 }).ToArray();
        var c = generator.Generate(prompt, new ReferenceSampling { Temperature = 1.0, Seed = 8, MaxTokens = 32 }).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    static int[] OneByOne(int length) => length == 1 ? [1] : [length / 2, .. Enumerable.Repeat(1, length - length / 2)];

    static int[] RandomChunks(int length, Random random)
    {
        var chunks = new List<int>();
        for (int left = length; left > 0;)
        {
            int n = Math.Min(left, random.Next(1, 20));
            chunks.Add(n);
            left -= n;
        }
        return chunks.ToArray();
    }
}
