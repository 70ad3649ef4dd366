using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// Attention of query rows (a decode's one token; a speculative verify's k + 1; every row of a prompt in the
/// batch-invariant mode) straight over a paged KV cache on the CPU: each sequence (or, when there are few, each range of its KV heads)
/// walks its block table once for the keys and once for the values, every query row and every KV head's
/// group of query heads sharing the rows it reads. Nothing is gathered or copied, so a step reads each
/// cached row once. Each query row's arithmetic is the same whatever other rows its sequence has, so a
/// token verified among k others gets the attention it would get decoded alone. <c>scaled_dot_product_attention</c> over a gathered batch costs a copy of
/// the batch's whole KV (or a second copy kept between steps) and thousands of tiny matrix products.
/// </summary>
internal static unsafe class PagedDecodeAttention
{
    // Below this much KV a second thread costs more to wake than it saves: one short sequence ran faster
    // on one thread than on two (figures in docs/performance-log.md).
    const long ParallelBytes = 4L << 20;

    /// <summary>Whether the kernel handles a cache of this dtype and device with this head size.</summary>
    public static bool Supports(Tensor cache) =>
        cache.device_type == DeviceType.CPU && cache.dtype == ScalarType.Float32 && cache.shape[^1] % Vector256<float>.Count == 0
        && Vector256.IsHardwareAccelerated && Sse.IsSupported;

    /// <summary>
    /// Output [R, heads, D] for queries [R, heads, D] over <paramref name="keys"/> and <paramref name="values"/>
    /// [slots, kv_heads, D]. Sequence b owns query rows [rowStarts[b], rowStarts[b + 1]), the last positions of
    /// its <c>lengths[b]</c>; its row for position t attends to positions [max(0, t + 1 - window), t], found
    /// through <paramref name="blockTables"/> (sequence b's table starting at <c>tableStarts[b]</c>; sequences may share one).
    /// </summary>
    public static Tensor Attend(Tensor query, Tensor keys, Tensor values, int[] blockTables, int[] tableStarts, int[] lengths, int[] rowStarts,
        int blockSize, int? window)
    {
        var q = query.contiguous();
        var output = empty_like(q);
        int sequences = lengths.Length, heads = (int)q.shape[1], headDim = (int)q.shape[2], kvHeads = (int)keys.shape[1];
        if (tableStarts.Length != sequences) throw new ArgumentException($"{sequences} sequences need {sequences} table starts", nameof(tableStarts));
        if (rowStarts.Length != sequences + 1 || rowStarts[sequences] != q.shape[0])
            throw new ArgumentException($"{sequences} sequences need {sequences + 1} row starts ending at the {q.shape[0]} query rows", nameof(rowStarts));
        fixed (byte* qp = q.bytes)
        fixed (byte* kp = keys.bytes)
        fixed (byte* vp = values.bytes)
        fixed (byte* op = output.bytes)
        fixed (int* tp = blockTables)
        fixed (int* sp = tableStarts)
        fixed (int* lp = lengths)
        fixed (int* rp = rowStarts)
        {
            var shape = new Shape((float*)qp, (float*)kp, (float*)vp, (float*)op, tp, sp, lp, rp, blockSize,
                heads, kvHeads, headDim, window ?? 0, 1f / MathF.Sqrt(headDim));
            long rows = 0;
            for (int b = 0; b < sequences; b++) rows += window is int w ? Math.Min(w + rowStarts[b + 1] - rowStarts[b] - 1, lengths[b]) : lengths[b];
            if (rows * 2 * kvHeads * headDim * sizeof(float) < ParallelBytes)
            {
                for (int b = 0; b < sequences; b++) AttendOne(b, 1, shape);
            }
            else
            {
                // Few sequences are split by KV heads too, so every thread gets work.
                int splits = Math.Clamp((4 * torch.get_num_threads() + sequences - 1) / sequences, 1, kvHeads);
                CpuParallel.For(sequences * splits, t => AttendOne(t, splits, shape));
            }
        }
        return output;
    }

    readonly struct Shape(float* query, float* keys, float* values, float* output, int* tables, int* tableStarts, int* lengths, int* rowStarts,
        int blockSize, int heads, int kvHeads, int headDim, int window, float scale)
    {
        public readonly float* Query = query, Keys = keys, Values = values, Output = output;
        public readonly int* Tables = tables, TableStarts = tableStarts, Lengths = lengths, RowStarts = rowStarts;
        public readonly int BlockSize = blockSize, Heads = heads, KvHeads = kvHeads, HeadDim = headDim, Window = window;
        public readonly float Scale = scale;
    }

    // One task is a sequence's contiguous range of KV heads: a cached row holds every KV head of a
    // position side by side, so a task that reads all of them streams each block front to back. Its query
    // rows see ranges of positions that share their end but the last few: scores are laid out per (row,
    // head) over the union of the ranges, and each row's softmax and sum run over its own range only.
    static void AttendOne(int task, int splits, in Shape s)
    {
        int b = task / splits, split = task % splits;
        int firstHead = (int)((long)s.KvHeads * split / splits), endHead = (int)((long)s.KvHeads * (split + 1) / splits);
        int group = s.Heads / s.KvHeads, d = s.HeadDim, queries = (endHead - firstHead) * group;
        int firstRow = s.RowStarts[b], rows = s.RowStarts[b + 1] - firstRow;
        int length = s.Lengths[b];
        int lastStart = length - rows;
        int first = s.Window > 0 ? Math.Max(0, lastStart + 1 - s.Window) : 0;
        int n = length - first;
        int* table = s.Tables + s.TableStarts[b];
        long rowStride = (long)s.KvHeads * d;
        long headStart = (long)firstHead * d;
        Span<int> from = stackalloc int[rows];
        Span<int> to = stackalloc int[rows];
        for (int r = 0; r < rows; r++)
        {
            to[r] = lastStart + 1 + r - first;
            from[r] = s.Window > 0 ? Math.Max(0, to[r] + first - s.Window) - first : 0;
        }

        float[] rented = ArrayPool<float>.Shared.Rent(rows * queries * n);
        try
        {
            fixed (float* scores = rented)
            {
                int rowFloats = queries / group * d;
                for (int p = 0; p < n; p++)
                {
                    if (p + 1 < n) Prefetch(s.Keys + RowOf(table, first + p + 1, s.BlockSize) * rowStride + headStart, rowFloats);
                    if (p + PageLookahead < n) PrefetchPages(s.Keys + RowOf(table, first + p + PageLookahead, s.BlockSize) * rowStride + headStart, rowFloats);
                    float* key = s.Keys + RowOf(table, first + p, s.BlockSize) * rowStride + headStart;
                    for (int r = 0; r < rows; r++)
                    {
                        if (p < from[r] || p >= to[r]) continue;
                        float* query = QueryOf(s.Query, firstRow + r, firstHead, group, s);
                        float* rowScores = scores + (long)r * queries * n;
                        for (int q = 0; q < queries; q++) rowScores[q * n + p] = Dot(query + q * d, key + q / group * d, d) * s.Scale;
                    }
                }
                for (int r = 0; r < rows; r++)
                {
                    float* rowScores = scores + (long)r * queries * n;
                    for (int q = 0; q < queries; q++) Softmax(rowScores + q * n + from[r], to[r] - from[r]);
                    new Span<float>(QueryOf(s.Output, firstRow + r, firstHead, group, s), queries * d).Clear();
                }

                for (int p = 0; p < n; p++)
                {
                    if (p + 1 < n) Prefetch(s.Values + RowOf(table, first + p + 1, s.BlockSize) * rowStride + headStart, rowFloats);
                    if (p + PageLookahead < n) PrefetchPages(s.Values + RowOf(table, first + p + PageLookahead, s.BlockSize) * rowStride + headStart, rowFloats);
                    float* value = s.Values + RowOf(table, first + p, s.BlockSize) * rowStride + headStart;
                    for (int r = 0; r < rows; r++)
                    {
                        if (p < from[r] || p >= to[r]) continue;
                        float* output = QueryOf(s.Output, firstRow + r, firstHead, group, s);
                        float* rowScores = scores + (long)r * queries * n;
                        for (int q = 0; q < queries; q++) AddScaled(output + q * d, value + q / group * d, rowScores[q * n + p], d);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    // The first of a query row's heads this task computes, in a [rows, heads, D] tensor.
    static float* QueryOf(float* tensor, int row, int firstHead, int group, in Shape s) =>
        tensor + ((long)row * s.Heads + (long)firstHead * group) * s.HeadDim;

    // The next row's cache lines, asked for while this row is computed: rows of a block are contiguous, but
    // the hardware prefetchers stop at every 4 KB page, about every row and a third, and the kernel then
    // waits on memory and computes in turn instead of both at once. One row ahead made the kernel faster;
    // two or more rows ahead, or into L2 only, was slower (figures in docs/performance-log.md).
    static void Prefetch(float* row, int floats)
    {
        for (int i = 0; i < floats; i += 64 / sizeof(float)) Sse.Prefetch0(row + i);
    }

    // A row's first line and every 4 KB page it enters, PageLookahead rows ahead: a touched page is one the
    // hardware prefetchers then stream on their own, a couple of rows before the full prefetch above asks
    // for its lines. Right after a product (as in a step) that made the kernel faster; 2 to 4 rows ahead
    // measured alike (figures in docs/performance-log.md).
    const int PageLookahead = 3;

    static void PrefetchPages(float* row, int floats)
    {
        Sse.Prefetch0(row);
        long start = (long)row, end = start + (long)floats * sizeof(float);
        for (long page = (start + 4095) & ~4095L; page < end; page += 4096) Sse.Prefetch0((void*)page);
    }

    static long RowOf(int* table, int position, int blockSize) => (long)table[position / blockSize] * blockSize + position % blockSize;

    static float Dot(float* a, float* b, int d)
    {
        var sum = Vector256<float>.Zero;
        for (int i = 0; i < d; i += Vector256<float>.Count)
            sum = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), sum);
        return Vector256.Sum(sum);
    }

    static void AddScaled(float* target, float* source, float weight, int d)
    {
        var w = Vector256.Create(weight);
        for (int i = 0; i < d; i += Vector256<float>.Count)
            Vector256.FusedMultiplyAdd(w, Vector256.Load(source + i), Vector256.Load(target + i)).Store(target + i);
    }

    // Normalised in place: exp(x - max) / sum.
    static void Softmax(float* x, int n)
    {
        const int lanes = 8;
        float max = float.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, x[i]);
        var vmax = Vector256.Create(max);
        var vsum = Vector256<float>.Zero;
        int p = 0;
        for (; p + lanes <= n; p += lanes)
        {
            var e = Vector256.Exp(Vector256.Load(x + p) - vmax);
            e.Store(x + p);
            vsum += e;
        }
        float sum = Vector256.Sum(vsum);
        for (; p < n; p++)
        {
            x[p] = MathF.Exp(x[p] - max);
            sum += x[p];
        }
        var inverse = Vector256.Create(1f / sum);
        p = 0;
        for (; p + lanes <= n; p += lanes) (Vector256.Load(x + p) * inverse).Store(x + p);
        for (; p < n; p++) x[p] /= sum;
    }
}
