using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Kernels;
using Rollout.Models.Layers;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Layers;

public class CpuPackedLinearTests
{
    static double MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Fact]
    public void TensorVersionIsBoundInThisBuild() => Assert.True(TensorVersion.IsAvailable,
        "libtorch_cpu.so should export the _version operator");

    // Wide enough that the product is split over threads, with a partial last panel, and row counts
    // that fill whole tiles, leave a partial tile, or take the single-row kernel.
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(64)]
    public void APanelProductSplitOverThreadsMatchesLinear(int rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = randn(1000, 768);
        var input = randn(rows, 768);
        using var product = new CpuPackedLinear(weight, null, pack: true);

        var packed = product.Forward(input);
        Assert.Equal(PanelGemm.IsSupported, product.LastUsedPacked);
        Assert.True(MaxDifference(packed, nn.functional.linear(input, weight)) < 1e-3);
    }

    [Property(MaxTest = 40)]
    public bool PackedProductEqualsLinear(PositiveInt rows, PositiveInt inFeatures, PositiveInt outFeatures, bool withBias, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        long m = rows.Get % 80 + 1, k = inFeatures.Get % 300 + 1, n = outFeatures.Get % 300 + 1;
        var weight = randn([n, k], generator: generator);
        var bias = withBias ? randn([n], generator: generator) : null;
        var input = randn([m, k], generator: generator);
        using var product = new CpuPackedLinear(weight, bias, pack: true);

        var packed = product.Forward(input);
        return product.LastUsedPacked == PanelGemm.IsSupported && packed.shape.SequenceEqual(new[] { m, n })
            && MaxDifference(packed, nn.functional.linear(input, weight, bias)) < 1e-4 * Math.Sqrt(k);
    }

    [Fact]
    public void BatchedInputAndAViewWithAStorageOffsetMultiplyTheirOwnRows()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = randn(48, 32);
        using var product = new CpuPackedLinear(weight, null, pack: true);
        var batched = randn(3, 5, 32);
        var view = randn(10, 32).narrow(0, 4, 3);

        var fromBatched = product.Forward(batched);
        Assert.Equal(new long[] { 3, 5, 48 }, fromBatched.shape);
        Assert.True(MaxDifference(fromBatched, nn.functional.linear(batched, weight)) < 1e-4);
        Assert.True(MaxDifference(product.Forward(view), nn.functional.linear(view, weight)) < 1e-4);
        Assert.Equal(PanelGemm.IsSupported, product.LastUsedPacked);
    }

    [Fact]
    public void AnInPlaceChangeOfTheWeightIsSeenByTheNextProduct()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = randn(64, 16);
        var input = randn(4, 16);
        using var product = new CpuPackedLinear(weight, null, pack: true);
        product.Forward(input);

        weight.copy_(randn(64, 16));
        Assert.True(MaxDifference(product.Forward(input), nn.functional.linear(input, weight)) < 1e-4);
        weight.narrow(0, 10, 5).mul_(3);
        Assert.True(MaxDifference(product.Forward(input), nn.functional.linear(input, weight)) < 1e-4);
        Assert.Equal(PanelGemm.IsSupported, product.LastUsedPacked);
    }

    [Fact]
    public void GradientModeOtherDtypesAndSwitchedOffTakeThePlainProduct()
    {
        using var scope = NewDisposeScope();
        var weight = randn(8, 4).requires_grad_();
        using var product = new CpuPackedLinear(weight, null, pack: true);
        var input = randn(2, 4);

        product.Forward(input).sum().backward();
        Assert.False(product.LastUsedPacked);
        Assert.NotNull(weight.grad);

        using var noGrad = no_grad();
        using var bf16 = new CpuPackedLinear(randn(8, 4).to(ScalarType.BFloat16), null, pack: true);
        bf16.Forward(input.to(ScalarType.BFloat16));
        Assert.False(bf16.LastUsedPacked);
        using var off = new CpuPackedLinear(randn(8, 4), null, pack: false);
        off.Forward(input);
        Assert.False(off.LastUsedPacked);
    }
}
