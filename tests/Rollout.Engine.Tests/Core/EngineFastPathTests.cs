using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Kernels;
using Rollout.Models.Loading;
using Rollout.TestSupport;

namespace Rollout.Engine.Tests.Core;

/// <summary>The engine's steps take the CPU fast path wherever a model's products can.</summary>
public class EngineFastPathTests
{
    // The language-model head is the largest product of a decode step, and it runs outside the model
    // runner (EngineCore.ReadHeads): in gradient mode the panel kernel refuses, and the product would fall
    // back to libtorch's on every step.
    [Theory]
    [InlineData("LlamaForCausalLM")]
    [InlineData("Qwen2ForCausalLM")]
    public void EveryProductOfAStepTakesThePanelKernel(string architecture)
    {
        // A model of its own: the products' record of their last call is shared with whoever else runs it.
        using var loaded = ModelLoader.Load(TinyModels.Directory(architecture));
        var model = (CausalLanguageModel)loaded.Model;
        using (var engine = LlmEngine.Create(loaded, new EngineOptions { KvCacheBytes = 8 << 20 }))
            engine.Generate([[1, 2, 3, 4], [5, 6, 7]], new SamplingParams { Temperature = 0, MaxTokens = 3, IgnoreEos = true });

        var products = model.PackedProducts().ToArray();
        Assert.Contains(products, p => p.Weight.shape[0] == loaded.Config.VocabSize);
        Assert.All(products, p => Assert.True(p.LastUsedPacked == PanelGemm.IsSupported,
            $"the [{string.Join(", ", p.Weight.shape)}] product's last call {(p.LastUsedPacked ? "took" : "did not take")} the panel kernel"));
    }
}
