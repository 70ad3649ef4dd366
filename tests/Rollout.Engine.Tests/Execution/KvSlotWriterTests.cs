using Rollout.Engine.Execution;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Execution;

public class KvSlotWriterTests
{
    // Few rows on the calling thread, a batch's rows on two; rows of whole vectors streamed, others copied.
    [Theory]
    [InlineData(5, 2, 8)]
    [InlineData(40, 2, 8)]
    [InlineData(40, 1, 4)]
    public void WritesTheRowsOfAFusedProjectionViewWhereIndexCopyWould(int tokens, int kvHeads, int headDim)
    {
        using var scope = NewDisposeScope();
        // The engine samples and writes its cache outside gradient mode, as the kernels require.
        using var noGrad = no_grad();
        // v out of qkv: [T, kv_heads, D] with a row stride wider than kv_heads * D.
        int width = kvHeads * headDim;
        var rows = randn(tokens, 3 * width + 4).narrow(1, 2 * width, width).reshape(tokens, kvHeads, headDim);
        long[] slots = [.. Enumerable.Range(0, 3 * tokens).OrderBy(i => (i * 7919) % 101).Take(tokens).Select(i => (long)i)];
        var cache = randn(3 * tokens, kvHeads, headDim);
        var expected = cache.clone().index_copy_(0, tensor(slots), rows);

        Assert.True(KvSlotWriter.Supports(cache, rows));
        KvSlotWriter.Write(cache, slots, rows);

        Assert.Equal(0, (cache - expected).abs().max().item<float>());
    }

    [Fact]
    public void ASlotOutsideTheCacheIsRefusedBeforeAnyRowIsWritten()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var cache = zeros(4, 1, 8);
        var rows = ones(2, 1, 8);

        var error = Assert.Throws<ArgumentException>(() => KvSlotWriter.Write(cache, [1, 4], rows));

        Assert.Contains("slot 4", error.Message);
        Assert.Equal(0, cache.abs().sum().item<float>());
    }

    [Fact]
    public void OtherLayoutsAndDtypesAreLeftToIndexCopy()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var cache = zeros(4, 2, 8);
        Assert.False(KvSlotWriter.Supports(cache, randn(2, 8, 2).transpose(1, 2)));
        Assert.False(KvSlotWriter.Supports(cache, randn(2, 2, 8, dtype: ScalarType.Float64)));
        Assert.False(KvSlotWriter.Supports(zeros(4, 2, 8, dtype: ScalarType.BFloat16), randn(2, 2, 8)));
    }
}
