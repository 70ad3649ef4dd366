using Rollout.Models.Attention;
using Rollout.Models.Loading;
using Rollout.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Modeling;

/// <summary>The module code serves training too: gradients reach every parameter and a step lowers the loss.</summary>
public class TrainingTests
{
    [Fact]
    public void GradientsReachEveryParameterAndAStepLowersTheLoss()
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory("Qwen3ForCausalLM"));
        var model = (CausalLanguageModel)loaded.Model;
        long[] ids = [3, 9, 27, 81, 243, 217, 139, 417, 3, 9, 27, 81];
        double Loss(bool backward)
        {
            using var scope = NewDisposeScope();
            var input = tensor(ids[..^1]);
            var hidden = model.Forward(new ForwardBatch(input, arange(input.shape[0], ScalarType.Int64), new UncachedAttention([ids.Length - 1])));
            var loss = nn.functional.cross_entropy(model.ComputeLogits(hidden), tensor(ids[1..]));
            if (backward) loss.backward();
            return loss.item<float>();
        }
        double before = Loss(backward: true);
        var parameters = model.Parameters();
        var withoutGradient = parameters.Where(p => p.Value.grad is null || p.Value.grad.abs().sum().item<float>() == 0).Select(p => p.Key).ToList();
        Assert.Empty(withoutGradient);
        using (no_grad())
        {
            foreach (var p in parameters.Values)
            {
                p.sub_(p.grad!.mul(0.05));
                p.grad!.zero_();
            }
        }
        double after = Loss(backward: false);
        Assert.True(after < before, $"loss {before} -> {after} after one SGD step");
    }
}
