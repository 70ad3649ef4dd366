using Rollout.Models.Layers;
using Rollout.Models.Tests.Gguf;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Layers;

public class RotaryEmbeddingTests
{
    // A forward pass on another thread (a second engine, or a trainer on the same model) may still be reading
    // the tables when a long sequence grows them: the outgrown ones must stay valid, and growing changes no angle.
    [Fact]
    public void TablesOutgrownStayReadableAndGrowingChangesNoRotation()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var rope = new RotaryEmbedding(GgufTestData.Config(), new ModelOptions());
        var x = randn(5, 4, 8);
        var positions = tensor(new long[] { 0, 3, 10, 40, 63 });
        var before = rope.Apply(x, positions);
        var (cos, sin) = rope.CurrentTables;

        rope.EnsureCovers(tensor(new long[] { 1000 }));

        Assert.False(cos.IsInvalid, "the outgrown cos table was freed");
        Assert.False(sin.IsInvalid, "the outgrown sin table was freed");
        Assert.Equal(64, cos.shape[0]);
        Assert.Equal(0f, (cos - rope.CurrentTables.Cos.narrow(0, 0, 64)).abs().max().item<float>());
        Assert.Equal(0f, (rope.Apply(x, positions) - before).abs().max().item<float>());
        Assert.True(rope.CurrentTables.Cos.shape[0] >= 1001);
    }
}
