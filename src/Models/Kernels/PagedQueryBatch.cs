using TorchSharp;

namespace Rollout.Models.Kernels;

/// <summary>
/// <see cref="PagedDecodeAttention"/>'s arguments for a set of sequences, each with its last rows as queries: every
/// sequence cut into runs of at most a given number of rows, each run a sequence of its own for the kernel (same block
/// table, the context up to its last row). A row's arithmetic does not depend on the rows beside it, so the cut
/// bounds the kernel's score buffer without changing a bit of the result.
/// </summary>
internal sealed class PagedQueryBatch
{
    readonly int[] _tables;
    readonly int _width;
    readonly int[] _lengths;
    readonly int[] _rowStarts;
    readonly int _blockSize;

    /// <param name="sequences">Each sequence's block table, context length (its query rows included) and query rows, in query order.</param>
    /// <param name="blockSize">Slots per block.</param>
    /// <param name="runRows">The most query rows per run.</param>
    public PagedQueryBatch(IReadOnlyList<(IReadOnlyList<int> BlockTable, int Length, int Rows)> sequences, int blockSize, int runRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(runRows);
        var runs = new List<(int Sequence, int Length, int Rows)>();
        for (int s = 0; s < sequences.Count; s++)
        {
            var (_, length, rows) = sequences[s];
            for (int first = 0; first < rows; first += runRows)
            {
                int end = Math.Min(rows, first + runRows);
                runs.Add((s, length - rows + end, end - first));
            }
        }
        _blockSize = blockSize;
        _width = runs.Count == 0 ? 0 : runs.Max(r => (r.Length + blockSize - 1) / blockSize);
        _tables = new int[runs.Count * _width];
        _lengths = new int[runs.Count];
        _rowStarts = new int[runs.Count + 1];
        for (int r = 0; r < runs.Count; r++)
        {
            var (s, length, rows) = runs[r];
            _lengths[r] = length;
            _rowStarts[r + 1] = _rowStarts[r] + rows;
            var table = sequences[s].BlockTable;
            for (int b = 0; b < (length + blockSize - 1) / blockSize; b++) _tables[r * _width + b] = table[b];
        }
    }

    /// <summary>Query rows in all.</summary>
    public int Rows => _rowStarts[^1];

    /// <summary>Attention of <paramref name="query"/> [<see cref="Rows"/>, heads, D] over the cache's <paramref name="keys"/> and <paramref name="values"/>.</summary>
    public torch.Tensor Attend(torch.Tensor query, torch.Tensor keys, torch.Tensor values, int? window) =>
        PagedDecodeAttention.Attend(query, keys, values, _tables, _width, _lengths, _rowStarts, _blockSize, window);
}
