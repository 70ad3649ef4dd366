using FsCheck;
using FsCheck.Xunit;
using Rollout.Engine.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Sampling;

public class GreedyArgMaxTests
{
    // Few distinct values and -inf masks: ties are everywhere, so "the first of tied maxima" is exercised.
    [Property(MaxTest = 60)]
    public bool ChoosesWhatTorchArgmaxChooses(PositiveInt rows, PositiveInt vocab, int seed, bool masked)
    {
        using var scope = NewDisposeScope();
        // The engine samples and writes its cache outside gradient mode, as the kernels require.
        using var noGrad = no_grad();
        var random = new Random(seed);
        int r = rows.Get % 9 + 1, v = vocab.Get % 300 + 1;
        var values = Enumerable.Range(0, r * v).Select(_ => masked && random.Next(3) == 0 ? float.NegativeInfinity : random.Next(-4, 5) * 0.5f).ToArray();
        var logits = tensor(values, r, v);

        return GreedyArgMax.Supports(logits) && GreedyArgMax.Rows(logits).SequenceEqual(logits.argmax(-1).data<long>().ToArray());
    }

    [Theory]
    [InlineData(5, 3)]
    [InlineData(40, 37)]
    [InlineData(40, 2)]
    public void ANaNWinsAsInTorch(int vocab, int at)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = Enumerable.Range(0, vocab).Select(i => (float)i).ToArray();
        values[at] = float.NaN;
        if (at + 1 < vocab) values[at + 1] = float.NaN;
        var logits = tensor(values, 1, vocab);

        Assert.Equal(logits.argmax(-1).item<long>(), GreedyArgMax.Rows(logits)[0]);
        Assert.Equal(at, GreedyArgMax.Rows(logits)[0]);
    }

    [Fact]
    public void OnlyContiguousFloatRowsOnTheCpuAreTakenHere()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Assert.False(GreedyArgMax.Supports(randn(4, 10).t()));
        Assert.False(GreedyArgMax.Supports(randn(4, 10, dtype: ScalarType.Float64)));
        Assert.False(GreedyArgMax.Supports(randn(10)));
        Assert.True(GreedyArgMax.Supports(randn(4, 10)));
    }
}
