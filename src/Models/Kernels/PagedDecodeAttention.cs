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
/// group of query heads sharing the rows it reads, eight positions at a time. Nothing is gathered or copied,
/// so a step reads each cached row once. Each query row's arithmetic is the same whatever other rows its sequence has, so a
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
        && Avx.IsSupported;

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
        long rowStride = (long)s.KvHeads * d, headStart = (long)firstHead * d;
        Span<int> from = stackalloc int[rows];
        Span<int> to = stackalloc int[rows];
        for (int r = 0; r < rows; r++)
        {
            to[r] = lastStart + 1 + r - first;
            from[r] = s.Window > 0 ? Math.Max(0, to[r] + first - s.Window) - first : 0;
        }

        float[] rented = ArrayPool<float>.Shared.Rent(rows * queries * n);
        float** rowsOfBlock = stackalloc float*[Positions];
        try
        {
            fixed (float* scores = rented)
            {
                int rowFloats = queries / group * d;
                for (int p0 = 0; p0 < n; p0 += Positions)
                {
                    int count = Math.Min(Positions, n - p0);
                    Locate(s.Keys + headStart, table, first, p0, count, n, rowStride, rowFloats, s.BlockSize, rowsOfBlock);
                    for (int r = 0; r < rows; r++)
                    {
                        if (p0 + count <= from[r] || p0 >= to[r]) continue;
                        float* query = QueryOf(s.Query, firstRow + r, firstHead, group, s);
                        float* rowScores = scores + (long)r * queries * n + p0;
                        for (int q = 0; q < queries; q++) Scores(query + q * d, rowsOfBlock, count, q / group * d, d, s.Scale, rowScores + q * n);
                    }
                }
                for (int r = 0; r < rows; r++)
                {
                    float* rowScores = scores + (long)r * queries * n;
                    for (int q = 0; q < queries; q++) Softmax(rowScores + q * n + from[r], to[r] - from[r]);
                    new Span<float>(QueryOf(s.Output, firstRow + r, firstHead, group, s), queries * d).Clear();
                }

                for (int p0 = 0; p0 < n; p0 += Positions)
                {
                    int count = Math.Min(Positions, n - p0);
                    Locate(s.Values + headStart, table, first, p0, count, n, rowStride, rowFloats, s.BlockSize, rowsOfBlock);
                    for (int r = 0; r < rows; r++)
                    {
                        int begin = Math.Max(from[r] - p0, 0), stop = Math.Min(to[r] - p0, count);
                        if (begin >= stop) continue;
                        float* output = QueryOf(s.Output, firstRow + r, firstHead, group, s);
                        float* rowScores = scores + (long)r * queries * n + p0;
                        for (int q = 0; q < queries; q++) AddWeighted(output + q * d, rowsOfBlock, begin, stop, q / group * d, rowScores + q * n, d);
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

    // rows[j] = this task's part of the cached row of position first + p0 + j, for j < count; prefetches the
    // next Positions positions' rows. Walks the block table by block and offset: a division a row showed
    // in the profile about as much as the rows' dot products.
    static void Locate(float* cache, int* table, int first, int p0, int count, int n, long rowStride, int rowFloats, int blockSize, float** rows)
    {
        int position = first + p0;
        int block = position / blockSize, offset = position - block * blockSize;
        int end = count + Math.Min(Positions, n - p0 - count);
        for (int j = 0; j < end; j++)
        {
            float* row = cache + ((long)table[block] * blockSize + offset) * rowStride;
            if (j < count) rows[j] = row;
            else Prefetch(row, rowFloats);
            if (++offset == blockSize)
            {
                offset = 0;
                block++;
            }
        }
    }

    // Rows of a block are contiguous, but the hardware prefetchers stop at every 4 KB page, about every
    // row and a third, so the next positions' rows are asked for while these are computed (two to twelve
    // rows ahead measured alike).
    static void Prefetch(float* row, int floats)
    {
        for (int i = 0; i < floats; i += 64 / sizeof(float)) Sse.Prefetch0(row + i);
    }

    // Positions a pass takes at once: eight keys' dot products with a query finish in one vector, where
    // one key at a time spent as much on each sum's horizontal add as on its multiply-adds, and a value
    // pass keeps its output rows in registers over eight rows instead of reloading them every row.
    const int Positions = 8;

    // target[j] = scale * (query · rows[j][offset..offset + d]) for j < count; a missing row reads the first and is dropped.
    static void Scores(float* query, float** rows, int count, int offset, int d, float scale, float* target)
    {
        float* k0 = rows[0] + offset;
        float* k1 = count > 1 ? rows[1] + offset : k0, k2 = count > 2 ? rows[2] + offset : k0, k3 = count > 3 ? rows[3] + offset : k0;
        float* k4 = count > 4 ? rows[4] + offset : k0, k5 = count > 5 ? rows[5] + offset : k0, k6 = count > 6 ? rows[6] + offset : k0;
        float* k7 = count > 7 ? rows[7] + offset : k0;
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
        for (int i = 0; i < d; i += Vector256<float>.Count)
        {
            var q = Vector256.Load(query + i);
            a0 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k0 + i), a0);
            a1 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k1 + i), a1);
            a2 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k2 + i), a2);
            a3 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k3 + i), a3);
            a4 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k4 + i), a4);
            a5 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k5 + i), a5);
            a6 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k6 + i), a6);
            a7 = Vector256.FusedMultiplyAdd(q, Vector256.Load(k7 + i), a7);
        }
        // Each lane j ends as ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) of accumulator j.
        var low = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        var high = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
        var sums = (Avx.Permute2x128(low, high, 0x20) + Avx.Permute2x128(low, high, 0x31)) * Vector256.Create(scale);
        if (count == Positions) sums.Store(target);
        else for (int j = 0; j < count; j++) target[j] = sums.GetElement(j);
    }

    // target += Σ weights[j] · rows[j][offset..offset + d] over j in [begin, end), in that order.
    static void AddWeighted(float* target, float** rows, int begin, int end, int offset, float* weights, int d)
    {
        const int lanes = 8;
        int i = 0;
        // Eight vectors a chunk: eight independent chains of multiply-adds keep both FMA units busy.
        for (; i + 8 * lanes <= d; i += 8 * lanes)
        {
            float* t = target + i;
            var t0 = Vector256.Load(t); var t1 = Vector256.Load(t + lanes); var t2 = Vector256.Load(t + 2 * lanes); var t3 = Vector256.Load(t + 3 * lanes);
            var t4 = Vector256.Load(t + 4 * lanes); var t5 = Vector256.Load(t + 5 * lanes); var t6 = Vector256.Load(t + 6 * lanes); var t7 = Vector256.Load(t + 7 * lanes);
            for (int j = begin; j < end; j++)
            {
                var w = Vector256.Create(weights[j]);
                float* v = rows[j] + offset + i;
                t0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v), t0);
                t1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + lanes), t1);
                t2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + 2 * lanes), t2);
                t3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + 3 * lanes), t3);
                t4 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + 4 * lanes), t4);
                t5 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + 5 * lanes), t5);
                t6 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + 6 * lanes), t6);
                t7 = Vector256.FusedMultiplyAdd(w, Vector256.Load(v + 7 * lanes), t7);
            }
            t0.Store(t); t1.Store(t + lanes); t2.Store(t + 2 * lanes); t3.Store(t + 3 * lanes);
            t4.Store(t + 4 * lanes); t5.Store(t + 5 * lanes); t6.Store(t + 6 * lanes); t7.Store(t + 7 * lanes);
        }
        for (; i < d; i += lanes)
        {
            var t = Vector256.Load(target + i);
            for (int j = begin; j < end; j++) t = Vector256.FusedMultiplyAdd(Vector256.Create(weights[j]), Vector256.Load(rows[j] + offset + i), t);
            t.Store(target + i);
        }
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
