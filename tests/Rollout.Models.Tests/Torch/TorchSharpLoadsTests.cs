using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Torch;

public class TorchSharpLoadsTests
{
    [Fact]
    public void MatmulRunsOnTheNativeLibrary()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        var b = tensor(new float[] { 5, 6, 7, 8 }, [2, 2]);
        var c = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }
}
