using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Kernels;

/// <summary>Each fused kernel against the chain of libtorch operations it replaces, on the layouts the model hands it.</summary>
public class FusedCpuKernelTests
{
    static double MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    static Tensor ReferenceNorm(Tensor x, Tensor weight, double eps) => weight * (x * rsqrt(x.pow(2).mean([-1], keepdim: true) + eps));

    // q out of a fused qkv projection: [T, heads, D] with a row stride wider than heads * D.
    static Tensor StridedHeads(long tokens, long heads, long d, long extraColumns, Generator generator) =>
        randn([tokens, heads * d + extraColumns], generator: generator).narrow(1, extraColumns / 2, heads * d).reshape(tokens, heads, d);

    [Property(MaxTest = 30)]
    public bool RmsNormMatchesTorchOnRowsAndStridedHeads(PositiveInt tokens, PositiveInt heads, PositiveInt vectors, PositiveInt extra, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        long t = tokens.Get % 70 + 1, h = heads.Get % 6 + 1, d = 8 * (vectors.Get % 20 + 1);
        var weight = randn([d], generator: generator);
        var rows = randn([t, d], generator: generator) * 3;
        var headsView = StridedHeads(t, h, d, 2 * (extra.Get % 20), generator);
        if (!RmsNormKernel.Supports(rows, weight) || !RmsNormKernel.Supports(headsView, weight)) return false;

        return MaxDifference(RmsNormKernel.Normalize(rows, weight, 1e-6), ReferenceNorm(rows, weight, 1e-6)) < 1e-4
            && MaxDifference(RmsNormKernel.Normalize(headsView, weight, 1e-5), ReferenceNorm(headsView, weight, 1e-5)) < 1e-4;
    }

    [Property(MaxTest = 30)]
    public bool RotaryMatchesRotateHalf(PositiveInt tokens, PositiveInt heads, PositiveInt halfVectors, PositiveInt extra, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        long t = tokens.Get % 70 + 1, h = heads.Get % 6 + 1, d = 16 * (halfVectors.Get % 8 + 1), length = 300;
        var x = StridedHeads(t, h, d, 2 * (extra.Get % 20), generator);
        var angles = randn([length, d / 2], generator: generator);
        var (cos, sin) = (cat([angles.cos(), angles.cos()], -1), cat([angles.sin(), angles.sin()], -1));
        var positions = randint(length, [t], generator: generator);
        if (!RotaryKernel.Supports(x, positions, cos, sin)) return false;

        var (c, s) = (cos.index_select(0, positions).unsqueeze(1), sin.index_select(0, positions).unsqueeze(1));
        var rotated = cat([-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)], -1);
        return MaxDifference(RotaryKernel.Rotate(x, positions, cos, sin), x * c + rotated * s) < 1e-5;
    }

    [Fact]
    public void RotaryRefusesAPositionPastItsTables()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (cos, sin) = (ones(10, 16), zeros(10, 16));
        var x = randn(2, 3, 16);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => RotaryKernel.Rotate(x, tensor(new long[] { 4, 10 }), cos, sin));
        Assert.Contains("[0, 10)", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => RotaryKernel.Rotate(x, tensor(new long[] { -1, 0 }), cos, sin));
    }

    [Property(MaxTest = 30)]
    public bool SwiGluMatchesSiluTimesUp(PositiveInt tokens, PositiveInt vectors, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        long t = tokens.Get % 300 + 1, intermediate = 8 * (vectors.Get % 300 + 1);
        var gateUp = randn([t, 2 * intermediate], generator: generator) * 6;
        if (!SwiGluKernel.Supports(gateUp)) return false;

        var expected = nn.functional.silu(gateUp.narrow(-1, 0, intermediate)) * gateUp.narrow(-1, intermediate, intermediate);
        return MaxDifference(SwiGluKernel.Apply(gateUp), expected) < 1e-5 * (1 + expected.abs().max().item<float>());
    }

    [Fact]
    public void GradientModeOtherDtypesAndOddSizesAreLeftToTorch()
    {
        using var scope = NewDisposeScope();
        var weight = ones(16);
        Assert.False(RmsNormKernel.Supports(randn(4, 16), weight), "gradient mode is on: the kernels record nothing for autograd");
        using var noGrad = no_grad();
        Assert.True(RmsNormKernel.Supports(randn(4, 16), weight));
        Assert.False(RmsNormKernel.Supports(randn(4, 16, dtype: ScalarType.Float64), weight));
        Assert.False(RmsNormKernel.Supports(randn(4, 12), ones(12)));
        Assert.False(RmsNormKernel.Supports(randn(16, 4).t(), weight));
        Assert.False(SwiGluKernel.Supports(randn(4, 40)));
        Assert.False(RotaryKernel.Supports(randn(4, 2, 8), zeros(4, ScalarType.Int64), ones(9, 8), ones(9, 8)));
    }
}
