using Rollout.Models.Kernels;
using Rollout.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Layers;

public class SwiGluMlpTests
{
    // Halves of 48 rows are not whole panel pairs: the activation then comes after a plain packed
    // product, which must still be packed, and the sum must be the same either way.
    [Theory]
    [InlineData(64)]
    [InlineData(48)]
    public void TheMlpAddsItsOutputToTheResidualWithPackedProductsWhateverItsWidth(int intermediate)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var mlp = new SwiGluMlp(40, intermediate, bias: false, new ModelOptions());
        foreach (var (_, parameter) in mlp.named_parameters()) parameter.copy_(randn(parameter.shape) * 0.2);
        var linears = mlp.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name, m => (Linear)m.module);
        var (gateUp, down) = (linears["gate_up_proj"].Weight, linears["down_proj"].Weight);
        var x = randn(9, 40);
        var residual = randn(9, 40);
        var gateAndUp = nn.functional.linear(x, gateUp);
        var expected = residual + nn.functional.linear(nn.functional.silu(gateAndUp.narrow(1, 0, intermediate)) * gateAndUp.narrow(1, intermediate, intermediate), down);

        var sum = mlp.forward(x, residual);

        Assert.True((sum - expected).abs().max().item<float>() < 1e-4);
        Assert.Equal(PanelGemm.IsSupported, linears["gate_up_proj"].LastUsedPacked);
        Assert.Equal(PanelGemm.IsSupported, linears["down_proj"].LastUsedPacked);
        Assert.Equal(PanelGemm.IsSupported, ReferenceEquals(sum, residual));
    }
}
