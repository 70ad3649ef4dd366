using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Kernels;
using Rollout.Models.Layers;
using Rollout.Models.Native;
using Rollout.Models.Tests.Kernels;
using Rollout.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Layers;

public class CpuPackedLinearTests
{
    static double MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

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

    // Forward, and ForwardAdd adding into the residual itself.
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
        var residual = randn([m, n], generator: generator);
        var expected = nn.functional.linear(input, weight, bias);
        var expectedSum = residual + expected;
        using var product = new CpuPackedLinear(weight, bias, pack: true);

        var packed = product.Forward(input);
        bool forward = product.LastUsedPacked == PanelGemm.IsSupported && packed.shape.SequenceEqual(new[] { m, n })
            && MaxDifference(packed, expected) < 1e-4 * Math.Sqrt(k);
        var sum = product.ForwardAdd(input, residual);
        return forward && product.LastUsedPacked == PanelGemm.IsSupported && ReferenceEquals(sum, residual) == PanelGemm.IsSupported
            && MaxDifference(sum, expectedSum) < 1e-4 * Math.Sqrt(k);
    }

    [Fact]
    public void ForwardAddLeavesAResidualItCannotWriteInPlaceAlone()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = randn(64, 96);
        var input = randn(16, 96);
        var transposed = randn(64, 16).t();
        var before = transposed.clone();
        using var product = new CpuPackedLinear(weight, null, pack: true);

        var sum = product.ForwardAdd(input, transposed);
        Assert.NotSame(transposed, sum);
        Assert.Equal(0, MaxDifference(transposed, before));
        Assert.True(MaxDifference(sum, before + nn.functional.linear(input, weight)) < 1e-4);
    }

    [Property(MaxTest = 40)]
    public bool AGatedProductGivesSwiGlusActivation(PositiveInt rows, PositiveInt inFeatures, PositiveInt panels, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        long m = rows.Get % 80 + 1, k = inFeatures.Get % 300 + 1, intermediate = PanelGemm.PanelColumns * (panels.Get % 6 + 1);
        var weight = randn([2 * intermediate, k], generator: generator);
        var input = randn([m, k], generator: generator);
        var gateUp = nn.functional.linear(input, weight);
        var expected = nn.functional.silu(gateUp.narrow(1, 0, intermediate)) * gateUp.narrow(1, intermediate, intermediate);
        using var product = new CpuPackedLinear(weight, null, pack: true, PanelLayout.GateUp);

        bool fused = product.TryForwardSwiGlu(input, out var activated);
        return fused == PanelGemm.IsSupported && (!fused || (activated.shape.SequenceEqual(new[] { m, intermediate })
            && MaxDifference(activated, expected) < 1e-4 * Math.Sqrt(k) * (1 + expected.abs().max().item<float>())));
    }

    // A row's outputs must not depend on the rows beside it: a sequence's logprobs would otherwise move
    // with the batch it was decoded in.
    [RequiresPanelGemmProperty(MaxTest = 30)]
    public bool EveryEpilogueGivesARowTheSameBitsInAnyBatch(PositiveInt rows, PositiveInt extra, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        long m = rows.Get % 20 + 2, more = extra.Get % 20 + 1, k = 200, n = 192;
        var weight = randn([n, k], generator: generator);
        var input = randn([m + more, k], generator: generator);
        var residual = randn([m + more, n], generator: generator);
        using var plain = new CpuPackedLinear(weight, null, pack: true);
        using var gated = new CpuPackedLinear(weight, null, pack: true, PanelLayout.GateUp);

        gated.TryForwardSwiGlu(input, out var wholeActivation);
        gated.TryForwardSwiGlu(input.narrow(0, 0, m), out var partActivation);
        return Identical(plain.Forward(input).narrow(0, 0, m), plain.Forward(input.narrow(0, 0, m)))
            && Identical(plain.ForwardAdd(input, residual.clone()).narrow(0, 0, m), plain.ForwardAdd(input.narrow(0, 0, m), residual.narrow(0, 0, m).clone()))
            && Identical(wholeActivation.narrow(0, 0, m), partActivation);
    }

    [Fact]
    public void AGatedLayerOutsideItsPackedPathStillMultipliesPlainly()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = randn(5, 40);
        var weight = randn(128, 40);
        using var gated = new CpuPackedLinear(weight, null, pack: true, PanelLayout.GateUp);
        Assert.True(MaxDifference(gated.Forward(input), nn.functional.linear(input, weight)) < 1e-4);
        Assert.False(gated.LastUsedPacked);

        using var withBias = new CpuPackedLinear(weight, randn(128), pack: true, PanelLayout.GateUp);
        Assert.False(withBias.TryForwardSwiGlu(input, out _));
        using var oddHalves = new CpuPackedLinear(randn(96, 40), null, pack: true, PanelLayout.GateUp);
        Assert.False(oddHalves.TryForwardSwiGlu(input, out _));
        using var plain = new CpuPackedLinear(weight, null, pack: true);
        Assert.False(plain.TryForwardSwiGlu(input, out _));
    }

    // The rotation inside the product must give the bits the separate kernel gives after the plain product.
    [RequiresPanelGemmProperty(MaxTest = 30)]
    public bool ARotaryProductRotatesItsHeadsAsTheRotaryKernelDoes(PositiveInt rows, PositiveInt heads, bool wideHeads, PositiveInt plainPanels, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        int m = rows.Get % 40 + 1, d = wideHeads ? 128 : 64, rotatedHeads = heads.Get % 5 + 1, rotated = rotatedHeads * d;
        int n = rotated + 2 * PanelGemm.PanelColumns * (plainPanels.Get % 3), k = 96, length = 500;
        var weight = randn([n, k], generator: generator);
        var input = randn([m, k], generator: generator);
        var angles = randn([length, d / 2], generator: generator);
        var (cos, sin) = (cat([angles.cos(), angles.cos()], -1), cat([angles.sin(), angles.sin()], -1));
        var positions = randint(length, [m], generator: generator);
        using var plain = new CpuPackedLinear(weight, null, pack: true);
        using var rotary = new CpuPackedLinear(weight, null, pack: true, PanelLayout.Rotary(d, rotated));

        var product = plain.Forward(input);
        var expected = cat([RotaryKernel.Rotate(product.narrow(1, 0, rotated).reshape(m, rotatedHeads, d), positions, cos, sin).reshape(m, rotated),
            product.narrow(1, rotated, n - rotated)], 1);
        return rotary.TryForwardRotated(input, positions, cos, sin, out var actual) && Identical(actual, expected)
            && Identical(rotary.Forward(input), product) && rotary.LastUsedPacked;
    }

    [RequiresPanelGemmFact]
    public void ARotaryProductRefusesPositionsPastItsTables()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var rotary = new CpuPackedLinear(randn(192, 32), null, pack: true, PanelLayout.Rotary(64, 128));
        var (cos, sin) = (randn(10, 64), randn(10, 64));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => rotary.TryForwardRotated(randn(2, 32), tensor(new long[] { 3, 10 }), cos, sin, out _));
        Assert.Contains("rotary tables [0, 10)", error.Message);
        Assert.False(rotary.TryForwardRotated(randn(2, 32), tensor(new long[] { 3, 4 }), randn(10, 32), randn(10, 32), out _));
        using var plain = new CpuPackedLinear(randn(192, 32), null, pack: true);
        Assert.False(plain.TryForwardRotated(randn(2, 32), tensor(new long[] { 3, 4 }), cos, sin, out _));
    }

    [Fact]
    public void PairedLayoutsRefuseWeightsTheyDoNotFit()
    {
        Assert.False(PanelLayout.GateUp.Fits(96));
        Assert.True(PanelLayout.GateUp.Fits(192));
        Assert.False(PanelLayout.Rotary(32, 64).Fits(128));
        Assert.False(PanelLayout.Rotary(64, 96).Fits(192));
        Assert.False(PanelLayout.Rotary(64, 256).Fits(192));
        Assert.True(PanelLayout.Rotary(128, 256).Fits(320));
    }

    [Fact]
    public unsafe void PackingGatePairsRefusesHalvesOfPartialPanels()
    {
        float* weight = stackalloc float[96 * 4];
        float* panels = stackalloc float[(int)PanelGemm.PackedFloats(96, 4)];
        var error = Assert.Throws<ArgumentException>(() => PanelGemm.Pack(weight, 96, 4, panels, PanelLayout.GateUp));
        Assert.Contains("96 rows", error.Message);
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
