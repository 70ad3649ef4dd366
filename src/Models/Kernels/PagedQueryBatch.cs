using TorchSharp;

namespace Rollout.Models.Kernels;

/// <summary>
/// <see cref="PagedDecodeAttention"/>'s arguments for a set of sequences, each with its last rows as queries: every
/// sequence cut into runs of at most a given number of rows, each run a sequence of its own for the kernel (the
/// sequence's block table, shared, and the context up to its last row). A row's arithmetic does not depend on the rows beside it, so the cut
/// bounds the kernel's score buffer without changing a bit of the result.
/// </summary>
internal sealed class PagedQueryBatch
{
    readonly int[] _tables;
    readonly int[] _tableStarts;
    readonly int[] _lengths;
    readonly int[] _rowStarts;
    readonly int _blockSize;

    /// <param name="sequences">Each sequence's block table, context length (its query rows included) and query rows, in query order.</param>
    /// <param name="blockSize">Slots per block.</param>
    /// <param name="runRows">The most query rows per run.</param>
    public PagedQueryBatch(IReadOnlyList<(IReadOnlyList<int> BlockTable, int Length, int Rows)> sequences, int blockSize, int runRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(runRows);
        var tables = new List<int>();
        var tableStarts = new List<int>();
        var lengths = new List<int>();
        var rowStarts = new List<int> { 0 };
        foreach (var (table, length, rows) in sequences)
        {
            int start = tables.Count;
            for (int b = 0; b < (length + blockSize - 1) / blockSize; b++) tables.Add(table[b]);
            for (int first = 0; first < rows; first += runRows)
            {
                int end = Math.Min(rows, first + runRows);
                tableStarts.Add(start);
                lengths.Add(length - rows + end);
                rowStarts.Add(rowStarts[^1] + end - first);
            }
        }
        _blockSize = blockSize;
        _tables = [.. tables];
        _tableStarts = [.. tableStarts];
        _lengths = [.. lengths];
        _rowStarts = [.. rowStarts];
    }

    /// <summary>Query rows in all.</summary>
    public int Rows => _rowStarts[^1];

    /// <summary>Attention of <paramref name="query"/> [<see cref="Rows"/>, heads, D] over the cache's <paramref name="keys"/> and <paramref name="values"/>.</summary>
    public torch.Tensor Attend(torch.Tensor query, torch.Tensor keys, torch.Tensor values, int? window) =>
        PagedDecodeAttention.Attend(query, keys, values, _tables, _tableStarts, _lengths, _rowStarts, _blockSize, window);
}
