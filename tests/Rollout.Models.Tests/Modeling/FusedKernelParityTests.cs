using Rollout.Models.Generation;
using Rollout.Models.Loading;
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
        using var unfused = ModelLoader.Load(directory, new ModelOptions { FusedCpuKernels = false });
        int[] ids = [1, 17, 42, 5, 99, 3, 64, 8, 21, 30, 2, 11];

        var expected = new ReferenceGenerator((CausalLanguageModel)unfused.Model, useKvCache: true).AllLogitsCached(ids, [7, 1, 1, 3]);
        var actual = new ReferenceGenerator((CausalLanguageModel)fused.Model, useKvCache: true).AllLogitsCached(ids, [7, 1, 1, 3]);
        LogitAssert.Close(expected, actual, 1e-5, name);
    }
}
