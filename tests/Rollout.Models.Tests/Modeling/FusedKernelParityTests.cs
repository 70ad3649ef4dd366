using Rollout.Models.Generation;
using Rollout.Models.Loading;
using Rollout.Models.Testing;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Modeling;

/// <summary>The model with its fused CPU kernels against the same model on libtorch operations alone.</summary>
public class FusedKernelParityTests
{
    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama-llama3-rope")]
    public void FusedAndUnfusedForwardsGiveTheSameLogits(string name)
    {
        string directory = Path.Combine(TestPaths.RepoFixtures, "hf", name);
        using var fused = ModelLoader.Load(directory);
        using var unfused = ModelLoader.Load(directory, new ModelOptions { CpuKernels = CpuKernels.Reference });
        int[] ids = [1, 17, 42, 5, 99, 3, 64, 8, 21, 30, 2, 11];

        var expected = new ReferenceGenerator((CausalLanguageModel)unfused.Model, useKvCache: true).AllLogitsCached(ids, [7, 1, 1, 3]);
        var actual = new ReferenceGenerator((CausalLanguageModel)fused.Model, useKvCache: true).AllLogitsCached(ids, [7, 1, 1, 3]);
        LogitAssert.Close(expected, actual, 1e-5, name);
    }

    // Heads of 64 and 128 split into whole panel pairs, so q and k rotate inside the q/k/v product (the
    // fixtures' heads of 16 and 32 rotate after it); the MLP's activation comes out of the gate-up product.
    [Theory]
    [InlineData("LlamaForCausalLM", 64)]
    [InlineData("MistralForCausalLM", 128)]
    public void ProductsThatRotateAndActivateGiveTheUnfusedLogits(string architecture, int headDim)
    {
        var options = new TinyModelOptions { HiddenSize = 128, Heads = 2, KeyValueHeads = 1, HeadDim = headDim, IntermediateSize = 192 };
        string directory = TinyModels.Directory(architecture, options);
        using var fused = ModelLoader.Load(directory);
        using var unfused = ModelLoader.Load(directory, new ModelOptions { CpuKernels = CpuKernels.Reference });
        int[] ids = [1, 17, 42, 5, 99, 3, 64, 8, 21, 30, 2, 11, 7, 300, 41, 12, 9, 6, 77, 18];

        var expected = new ReferenceGenerator((CausalLanguageModel)unfused.Model, useKvCache: true).AllLogitsCached(ids, [11, 1, 1, 7]);
        var actual = new ReferenceGenerator((CausalLanguageModel)fused.Model, useKvCache: true).AllLogitsCached(ids, [11, 1, 1, 7]);
        LogitAssert.Close(expected, actual, 1e-5, architecture);
    }

    // The fused path adds each layer's output into the residual stream in place; the stream must start as
    // the forward's own copy of the embeddings, never as a view of a weight.
    [Fact]
    public void AForwardWritesIntoNoWeightAndRepeatsItself()
    {
        using var loaded = ModelLoader.Load(Path.Combine(TestPaths.RepoFixtures, "hf", "llama-llama3-rope"));
        var model = (CausalLanguageModel)loaded.Model;
        var before = model.Parameters().ToDictionary(p => p.Key, p => p.Value.clone());
        int[] ids = [1, 17, 42, 5, 99, 3];

        var first = new ReferenceGenerator(model, useKvCache: true).AllLogitsCached(ids, [4, 1, 1]);
        var second = new ReferenceGenerator(model, useKvCache: false).AllLogitsCached(ids, [6]);
        LogitAssert.Close(first, second, 1e-5, "cached against uncached");
        foreach (var (name, parameter) in model.Parameters())
            Assert.True((parameter == before[name]).all().item<bool>(), $"{name} changed during a forward pass");
    }

    [Theory]
    [InlineData(CpuKernels.Fast)]
    [InlineData(CpuKernels.Reference)]
    public void TheSwitchDecidesWhetherAnyProductTakesThePanelKernel(CpuKernels kernels)
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory("Qwen3ForCausalLM"), new ModelOptions { CpuKernels = kernels });
        var model = (CausalLanguageModel)loaded.Model;
        new ReferenceGenerator(model, useKvCache: true).AllLogitsCached([1, 17, 42, 5], [4]);
        var linears = model.modules().OfType<Rollout.Models.Layers.Linear>().ToArray();
        Assert.NotEmpty(linears);
        bool expectPacked = kernels == CpuKernels.Fast && Rollout.Models.Kernels.PanelGemm.IsSupported;
        Assert.All(linears, l => Assert.Equal(expectPacked, l.LastUsedPacked));
    }
}
