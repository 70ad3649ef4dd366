using FsCheck;
using FsCheck.Xunit;
using Rollout.Engine.Execution;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Execution;

public class PagedDecodeAttentionTests
{
    /// <summary>
    /// Random sequences in a shuffled block pool; the kernel's output against
    /// <c>scaled_dot_product_attention</c> over each sequence's keys gathered in order.
    /// </summary>
    static double Discrepancy(int sequences, int kvHeads, int group, int headDim, int blockSize, int? window, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var random = new Random(seed);
        var generator = new Generator((ulong)seed);
        int heads = kvHeads * group;
        int[] lengths = Enumerable.Range(0, sequences).Select(_ => random.Next(1, 70)).ToArray();
        int width = lengths.Max(l => (l + blockSize - 1) / blockSize);
        int blocks = sequences * width + 3;
        var pool = Enumerable.Range(0, blocks).OrderBy(_ => random.Next()).ToArray();
        int[] tables = Enumerable.Range(0, sequences * width).Select(i => pool[i]).ToArray();
        var keys = randn([blocks * blockSize, kvHeads, headDim], generator: generator);
        var values = randn([blocks * blockSize, kvHeads, headDim], generator: generator);
        var query = randn([sequences, heads, headDim], generator: generator);

        var output = PagedDecodeAttention.Attend(query, keys, values, tables, width, lengths, blockSize, window);

        double worst = 0;
        for (int b = 0; b < sequences; b++)
        {
            int first = window is int w ? Math.Max(0, lengths[b] - w) : 0;
            var rows = tensor(Enumerable.Range(first, lengths[b] - first)
                .Select(p => (long)tables[b * width + p / blockSize] * blockSize + p % blockSize).ToArray());
            var k = keys.index_select(0, rows).permute(1, 0, 2);
            var v = values.index_select(0, rows).permute(1, 0, 2);
            var q = query[b].view(kvHeads, group, headDim);
            var expected = nn.functional.scaled_dot_product_attention(q, k, v).reshape(heads, headDim);
            worst = Math.Max(worst, (output[b] - expected).abs().max().item<float>());
        }
        return worst;
    }

    [Property(MaxTest = 40)]
    public bool MatchesAttentionOverTheGatheredKeys(PositiveInt sequences, PositiveInt kvHeads, PositiveInt group, bool sixteenWide, bool windowed, int seed) =>
        Discrepancy(sequences.Get % 9 + 1, kvHeads.Get % 4 + 1, group.Get % 3 + 1, sixteenWide ? 16 : 64, blockSize: 4 + Math.Abs(seed % 2) * 12,
            windowed ? 1 + Math.Abs(seed % 20) : null, seed) < 1e-5;

    [Fact]
    public void OneSequenceIsSplitAcrossThreadsByHeadsAndStillMatches() =>
        Assert.True(Discrepancy(1, 12, 1, 64, 16, null, 5) < 1e-5);

    [Fact]
    public void SupportsOnlyFloat32CachesOnTheCpuWithWholeVectorHeads()
    {
        using var scope = NewDisposeScope();
        Assert.True(PagedDecodeAttention.Supports(zeros(4, 2, 64)));
        Assert.False(PagedDecodeAttention.Supports(zeros(4, 2, 64, dtype: ScalarType.BFloat16)));
        Assert.False(PagedDecodeAttention.Supports(zeros(4, 2, 12)));
    }
}
