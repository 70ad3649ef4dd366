using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Execution;

public class PagedDecodeAttentionTests
{
    /// <summary>
    /// Random sequences in a shuffled block pool, each with 1 to <paramref name="maxRows"/> query rows (its last
    /// positions); the kernel's output against <c>scaled_dot_product_attention</c> over each row's keys gathered in
    /// order. With <paramref name="rowAlone"/>, also whether every row's output equals, bit for bit, what the kernel
    /// gives that row as a one-row decode of its own.
    /// </summary>
    static double Discrepancy(int sequences, int kvHeads, int group, int headDim, int blockSize, int? window, int seed, int maxRows = 1) =>
        Run(sequences, kvHeads, group, headDim, blockSize, window, seed, maxRows).Worst;

    static (double Worst, bool RowsAsAlone) Run(int sequences, int kvHeads, int group, int headDim, int blockSize, int? window, int seed, int maxRows,
        int family = 1, int maxLength = 70)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var random = new Random(seed);
        var generator = new Generator((ulong)seed);
        int heads = kvHeads * group;
        int[] lengths = Enumerable.Range(0, sequences).Select(_ => random.Next(1, maxLength)).ToArray();
        int width = lengths.Max(l => (l + blockSize - 1) / blockSize);
        int blocks = sequences * width + 3;
        var pool = Enumerable.Range(0, blocks).OrderBy(_ => random.Next()).ToArray();
        int[] tables = Enumerable.Range(0, sequences * width).Select(i => pool[i]).ToArray();
        // Families of sequences whose tables begin with their first member's blocks, as samples of one prompt do.
        for (int leader = 0; leader < sequences; leader += family)
        {
            int members = Math.Min(family, sequences - leader);
            int shared = random.Next(0, Enumerable.Range(leader, members).Min(b => (lengths[b] + blockSize - 1) / blockSize) + 1);
            for (int b = leader + 1; b < leader + members; b++) Array.Copy(tables, leader * width, tables, b * width, shared);
        }
        var keys = randn([blocks * blockSize, kvHeads, headDim], generator: generator);
        var values = randn([blocks * blockSize, kvHeads, headDim], generator: generator);
        int[] rowCounts = lengths.Select(l => random.Next(1, Math.Min(maxRows, l) + 1)).ToArray();
        int[] rowStarts = new int[sequences + 1];
        for (int b = 0; b < sequences; b++) rowStarts[b + 1] = rowStarts[b] + rowCounts[b];
        var query = randn([rowStarts[sequences], heads, headDim], generator: generator);

        var output = PagedDecodeAttention.Attend(query, keys, values, tables, Enumerable.Range(0, sequences).Select(b => b * width).ToArray(), lengths, rowStarts, blockSize, window);

        double worst = 0;
        bool rowsAsAlone = true;
        for (int b = 0; b < sequences; b++)
        {
            for (int r = 0; r < rowCounts[b]; r++)
            {
                int end = lengths[b] - rowCounts[b] + 1 + r;
                int first = window is int w ? Math.Max(0, end - w) : 0;
                var rows = tensor(Enumerable.Range(first, end - first)
                    .Select(p => (long)tables[b * width + p / blockSize] * blockSize + p % blockSize).ToArray());
                var k = keys.index_select(0, rows).permute(1, 0, 2);
                var v = values.index_select(0, rows).permute(1, 0, 2);
                var row = query[rowStarts[b] + r];
                var expected = nn.functional.scaled_dot_product_attention(row.view(kvHeads, group, headDim), k, v).reshape(heads, headDim);
                worst = Math.Max(worst, (output[rowStarts[b] + r] - expected).abs().max().item<float>());
                var alone = PagedDecodeAttention.Attend(row.unsqueeze(0), keys, values, tables[(b * width)..((b + 1) * width)], [0], [end], [0, 1], blockSize, window);
                rowsAsAlone &= alone[0].eq(output[rowStarts[b] + r]).all().item<bool>();
            }
        }
        return (worst, rowsAsAlone);
    }

    [Property(MaxTest = 30)]
    public bool SeveralQueryRowsPerSequenceMatchAttentionOverTheirOwnPrefixes(PositiveInt sequences, PositiveInt kvHeads, bool windowed, int seed) =>
        Discrepancy(sequences.Get % 6 + 1, kvHeads.Get % 3 + 1, 2, 16, blockSize: 4, windowed ? 1 + Math.Abs(seed % 20) : null, seed,
            maxRows: 16) < 1e-5;

    /// <summary>A verified token gets the attention it would get decoded alone: what makes speculative greedy outputs equal plain ones.</summary>
    [Property(MaxTest = 20)]
    public bool EachQueryRowComputesExactlyWhatItWouldAlone(PositiveInt sequences, bool windowed, int seed) =>
        Run(sequences.Get % 4 + 1, 2, 2, 16, 4, windowed ? 1 + Math.Abs(seed % 20) : null, seed, maxRows: 6).RowsAsAlone;

    // Whole chunks of eight vectors, a chunk and a tail, and tails alone.
    static readonly int[] HeadSizes = [16, 24, 64, 96, 128];

    [Property(MaxTest = 40)]
    public bool MatchesAttentionOverTheGatheredKeys(PositiveInt sequences, PositiveInt kvHeads, PositiveInt group, PositiveInt width, bool windowed, int seed) =>
        Discrepancy(sequences.Get % 9 + 1, kvHeads.Get % 4 + 1, group.Get % 3 + 1, HeadSizes[width.Get % HeadSizes.Length], blockSize: 4 + Math.Abs(seed % 2) * 12,
            windowed ? 1 + Math.Abs(seed % 20) : null, seed) < 1e-5;

    /// <summary>Sequences whose tables share their first blocks, as the samples of one prompt do, each get what they would get alone.</summary>
    [Property(MaxTest = 30)]
    public bool SequencesSharingTheirFirstBlocksMatchAndComputeWhatTheyWouldAlone(PositiveInt family, PositiveInt rows, bool windowed, int seed)
    {
        var (worst, alone) = Run(12, 2, 2, 16, 4, windowed ? 1 + Math.Abs(seed % 20) : null, seed, maxRows: rows.Get % 4 + 1, family: family.Get % 6 + 2);
        return worst < 1e-5 && alone;
    }

    // Enough KV for both threads.
    [Fact]
    public void ABatchOfSharedPromptsOnTwoThreadsMatchesAndComputesWhatEachWouldAlone()
    {
        var (worst, alone) = Run(48, 4, 2, 64, 16, null, 11, maxRows: 2, family: 8, maxLength: 400);
        Assert.True(worst < 1e-5, $"worst difference {worst}");
        Assert.True(alone, "a row's output differs from what it gets alone");
    }

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
