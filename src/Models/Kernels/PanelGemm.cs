using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace Rollout.Models.Kernels;

/// <summary>
/// fp32 y = x Wᵀ on the CPU against a weight repacked once into column panels: panel p holds columns
/// [32p, 32p + 32) of Wᵀ as K rows of 32 contiguous floats (the last panel zero-padded), so a tile of
/// 8 input rows by 32 outputs keeps 16 AVX-512 accumulators in registers while it streams one panel
/// front to back. Each thread takes a contiguous run of panels and, while it multiplies one, prefetches
/// the next into its own core's cache: with the weights streamed from memory, as in a decode step, MKL's
/// packed products ran markedly slower than on weights already in cache, and this kernel does not
/// (figures in docs/performance-log.md). The panels are as large as the weight itself, where MKL's
/// packed copies were several times larger.
/// A finished tile can take the pass that would follow the product with it (<see cref="PanelEpilogue"/>:
/// the residual add, SwiGLU's activation, the rotary embedding), its panels ordered for it by a
/// <see cref="PanelLayout"/>.
/// </summary>
internal static unsafe class PanelGemm
{
    /// <summary>Output columns of one panel.</summary>
    public const int PanelColumns = 32;

    const int TileRows = 8;

    // Below this many multiply-adds one thread is faster than waking a second (tiny test models).
    const long SerialWork = 1L << 18;

    /// <summary>Whether this CPU runs the kernel (AVX-512F).</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    /// <summary>Floats of the panel form of a weight [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>].</summary>
    public static long PackedFloats(int outFeatures, int inFeatures) => (long)PanelCount(outFeatures) * inFeatures * PanelColumns;

    static int PanelCount(int outFeatures) => (outFeatures + PanelColumns - 1) / PanelColumns;

    /// <summary>
    /// Repacks a row-major weight [outFeatures, inFeatures] into <see cref="PackedFloats"/> floats at
    /// <paramref name="panels"/>, its rows in the order <paramref name="layout"/> gives.
    /// </summary>
    /// <exception cref="ArgumentException">The layout does not fit the weight.</exception>
    public static void Pack(float* weight, int outFeatures, int inFeatures, float* panels, PanelLayout layout = default)
    {
        if (!layout.Fits(outFeatures)) throw new ArgumentException($"the panel layout does not fit a weight of {outFeatures} rows", nameof(layout));
        CpuParallel.For(PanelCount(outFeatures), p =>
        {
            float* panel = panels + (long)p * inFeatures * PanelColumns;
            int first = layout.WeightRow(p, outFeatures);
            int columns = Math.Min(PanelColumns, outFeatures - first);
            for (int k = 0; k < inFeatures; k++)
            {
                float* row = panel + (long)k * PanelColumns;
                for (int j = 0; j < columns; j++) row[j] = weight[(long)(first + j) * inFeatures + k];
                for (int j = columns; j < PanelColumns; j++) row[j] = 0f;
            }
        });
    }

    /// <summary>
    /// output = input [rows, inFeatures] · Wᵀ, W packed by <see cref="Pack"/> with <paramref name="layout"/>,
    /// each panel finished as <see cref="PanelLayout.Finish"/> says for <paramref name="epilogue"/>; output is
    /// [rows, outFeatures], or [rows, outFeatures / 2] for a gate-up layout. Input and output row-major and
    /// contiguous; <paramref name="angles"/> only for <see cref="PanelEpilogue.Rotate"/>.
    /// </summary>
    public static void Multiply(float* input, int rows, int inFeatures, float* panels, int outFeatures, float* output,
        PanelLayout layout = default, PanelEpilogue epilogue = PanelEpilogue.Store, RotaryAngles angles = default)
    {
        int count = PanelCount(outFeatures), groups = count / layout.Group;
        int threads = (long)rows * outFeatures * inFeatures < SerialWork ? 1 : Math.Min(torch.get_num_threads(), groups);
        var work = new Work(input, rows, inFeatures, panels, outFeatures, output, layout, epilogue, angles);
        if (threads <= 1)
        {
            work.Run(0, count);
            return;
        }
        CpuParallel.For(threads, t => work.Run((int)((long)groups * t / threads) * layout.Group, (int)((long)groups * (t + 1) / threads) * layout.Group));
    }

    readonly struct Work(float* input, int rows, int k, float* panels, int n, float* output, PanelLayout layout, PanelEpilogue epilogue, RotaryAngles angles)
    {
        // A thread's panels lie back to back, so the panel it prefetches is the one it multiplies next.
        public void Run(int first, int end)
        {
            float* tile = stackalloc float[TileRows * PanelColumns];
            int ldc = layout.HalvesOutput ? n / 2 : n;
            for (int p = first; p < end; p++)
            {
                float* panel = panels + (long)p * k * PanelColumns;
                float* next = p + 1 < end ? panel + (long)k * PanelColumns : null;
                int column = layout.OutputColumn(p), weightRow = layout.WeightRow(p, n);
                int columns = Math.Min(PanelColumns, n - weightRow);
                var finish = new Finish(layout.Finish(p, epilogue), angles, layout.HalfHead, column);
                if (rows == 1) Row(input, k, panel, output + column, columns, tile, finish);
                else Tiles(input, rows, k, panel, next, output + column, ldc, columns, tile, finish);
            }
        }
    }

    // One panel's epilogue: for a rotation, the rows' angles and where in its head's half the panel lies.
    readonly struct Finish(PanelEpilogue op, RotaryAngles angles, int halfHead, int column)
    {
        public readonly PanelEpilogue Op = op;
        public readonly RotaryAngles Angles = angles;
        public readonly int HalfHead = halfHead;
        public readonly int Frequency = op == PanelEpilogue.Rotate ? column % angles.HeadDim - halfHead : 0;
    }

    // One panel against every row, 8 rows a tile. Missing rows of the last tile read the tile's first
    // row and are dropped; a partial panel's padding columns are dropped the same way.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tiles(float* x, int m, int k, float* b, float* next, float* c, int ldc, int columns, float* tile, in Finish finish)
    {
        int tiles = (m + TileRows - 1) / TileRows;
        // The next panel's lines, spread evenly over this panel's steps (two of K each).
        int lines = k * PanelColumns * sizeof(float) / 64, steps = Math.Max(1, tiles * (k / 2));
        int stride = Math.Max(1, steps / Math.Max(1, lines)), perStride = Math.Max(1, (lines + steps - 1) / steps);
        int countdown = stride;
        float* prefetch = next, prefetchEnd = next + (long)k * PanelColumns;
        for (int t = 0; t < tiles; t++)
        {
            int rows = Math.Min(TileRows, m - t * TileRows);
            float* a0 = x + (long)t * TileRows * k;
            float* a1 = rows > 1 ? a0 + k : a0, a2 = rows > 2 ? a0 + 2 * k : a0, a3 = rows > 3 ? a0 + 3 * k : a0;
            float* a4 = rows > 4 ? a0 + 4 * k : a0, a5 = rows > 5 ? a0 + 5 * k : a0, a6 = rows > 6 ? a0 + 6 * k : a0, a7 = rows > 7 ? a0 + 7 * k : a0;
            var c00 = Vector512<float>.Zero; var c01 = c00; var c10 = c00; var c11 = c00; var c20 = c00; var c21 = c00; var c30 = c00; var c31 = c00;
            var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00; var c60 = c00; var c61 = c00; var c70 = c00; var c71 = c00;
            float* bk = b;
            // Two K rows a step: with one, the loop's own work cost a measurable share of a batch-64 step's
            // products.
            for (int i = 0; i + 1 < k; i += 2)
            {
                if (next != null && --countdown == 0)
                {
                    countdown = stride;
                    for (int j = 0; j < perStride && prefetch < prefetchEnd; j++, prefetch += 64 / sizeof(float)) Sse.Prefetch0(prefetch);
                }
                var b0 = Vector512.Load(bk);
                var b1 = Vector512.Load(bk + 16);
                var v = Vector512.Create(a0[i]); c00 = Avx512F.FusedMultiplyAdd(v, b0, c00); c01 = Avx512F.FusedMultiplyAdd(v, b1, c01);
                v = Vector512.Create(a1[i]); c10 = Avx512F.FusedMultiplyAdd(v, b0, c10); c11 = Avx512F.FusedMultiplyAdd(v, b1, c11);
                v = Vector512.Create(a2[i]); c20 = Avx512F.FusedMultiplyAdd(v, b0, c20); c21 = Avx512F.FusedMultiplyAdd(v, b1, c21);
                v = Vector512.Create(a3[i]); c30 = Avx512F.FusedMultiplyAdd(v, b0, c30); c31 = Avx512F.FusedMultiplyAdd(v, b1, c31);
                v = Vector512.Create(a4[i]); c40 = Avx512F.FusedMultiplyAdd(v, b0, c40); c41 = Avx512F.FusedMultiplyAdd(v, b1, c41);
                v = Vector512.Create(a5[i]); c50 = Avx512F.FusedMultiplyAdd(v, b0, c50); c51 = Avx512F.FusedMultiplyAdd(v, b1, c51);
                v = Vector512.Create(a6[i]); c60 = Avx512F.FusedMultiplyAdd(v, b0, c60); c61 = Avx512F.FusedMultiplyAdd(v, b1, c61);
                v = Vector512.Create(a7[i]); c70 = Avx512F.FusedMultiplyAdd(v, b0, c70); c71 = Avx512F.FusedMultiplyAdd(v, b1, c71);
                b0 = Vector512.Load(bk + PanelColumns);
                b1 = Vector512.Load(bk + PanelColumns + 16);
                v = Vector512.Create(a0[i + 1]); c00 = Avx512F.FusedMultiplyAdd(v, b0, c00); c01 = Avx512F.FusedMultiplyAdd(v, b1, c01);
                v = Vector512.Create(a1[i + 1]); c10 = Avx512F.FusedMultiplyAdd(v, b0, c10); c11 = Avx512F.FusedMultiplyAdd(v, b1, c11);
                v = Vector512.Create(a2[i + 1]); c20 = Avx512F.FusedMultiplyAdd(v, b0, c20); c21 = Avx512F.FusedMultiplyAdd(v, b1, c21);
                v = Vector512.Create(a3[i + 1]); c30 = Avx512F.FusedMultiplyAdd(v, b0, c30); c31 = Avx512F.FusedMultiplyAdd(v, b1, c31);
                v = Vector512.Create(a4[i + 1]); c40 = Avx512F.FusedMultiplyAdd(v, b0, c40); c41 = Avx512F.FusedMultiplyAdd(v, b1, c41);
                v = Vector512.Create(a5[i + 1]); c50 = Avx512F.FusedMultiplyAdd(v, b0, c50); c51 = Avx512F.FusedMultiplyAdd(v, b1, c51);
                v = Vector512.Create(a6[i + 1]); c60 = Avx512F.FusedMultiplyAdd(v, b0, c60); c61 = Avx512F.FusedMultiplyAdd(v, b1, c61);
                v = Vector512.Create(a7[i + 1]); c70 = Avx512F.FusedMultiplyAdd(v, b0, c70); c71 = Avx512F.FusedMultiplyAdd(v, b1, c71);
                bk += 2 * PanelColumns;
            }
            // Through the tile in L1, whatever the epilogue: finished straight from the registers (a call
            // per accumulator), the products ran much slower.
            float* row = tile;
            c00.Store(row); c01.Store(row + 16); row += PanelColumns;
            c10.Store(row); c11.Store(row + 16); row += PanelColumns;
            c20.Store(row); c21.Store(row + 16); row += PanelColumns;
            c30.Store(row); c31.Store(row + 16); row += PanelColumns;
            c40.Store(row); c41.Store(row + 16); row += PanelColumns;
            c50.Store(row); c51.Store(row + 16); row += PanelColumns;
            c60.Store(row); c61.Store(row + 16); row += PanelColumns;
            c70.Store(row); c71.Store(row + 16);
            if (k % 2 == 1) AddLastRow(a0, rows, k, bk, tile);
            EmitTile(finish, tile, t * TileRows, rows, columns, c + (long)t * TileRows * ldc, ldc);
        }
    }

    // A single row (a batch-1 decode) reads the panel once and is bound by memory: no tile. Prefetching
    // the next panel, as the tiles do, measured slower here than the hardware's own streaming; but those
    // streams stop at every 4 KB page, so every 2 KB the row touches the line a page ahead, and the next
    // page's stream has started when the row gets there. That made the products of a batch-1 decode step
    // faster than the row without it (figures in docs/performance-log.md).
    const int PageAheadBytes = 4096;
    const int PageTouchRows = 2048 / (PanelColumns * sizeof(float));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row(float* x, int k, float* b, float* c, int columns, float* tile, in Finish finish)
    {
        var c0 = Vector512<float>.Zero; var c1 = c0; var d0 = c0; var d1 = c0;
        float* bk = b;
        int i = 0;
        for (; i + 1 < k; i += 2, bk += 2 * PanelColumns)
        {
            if ((i & (PageTouchRows - 1)) == 0) Sse.Prefetch0((byte*)bk + PageAheadBytes);
            var v = Vector512.Create(x[i]);
            c0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(bk), c0);
            c1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(bk + 16), c1);
            v = Vector512.Create(x[i + 1]);
            d0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(bk + 32), d0);
            d1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(bk + 48), d1);
        }
        if (i < k)
        {
            var v = Vector512.Create(x[i]);
            c0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(bk), c0);
            c1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(bk + 16), c1);
        }
        (c0 + d0).Store(tile);
        (c1 + d1).Store(tile + 16);
        EmitTile(finish, tile, 0, 1, columns, c, 0);
    }

    // An odd K's last row of the panel, added to the tile's rows.
    static void AddLastRow(float* a0, int rows, int k, float* lastRow, float* tile)
    {
        var b0 = Vector512.Load(lastRow);
        var b1 = Vector512.Load(lastRow + 16);
        for (int r = 0; r < rows; r++, tile += PanelColumns)
        {
            var v = Vector512.Create(a0[(long)r * k + k - 1]);
            Avx512F.FusedMultiplyAdd(v, b0, Vector512.Load(tile)).Store(tile);
            Avx512F.FusedMultiplyAdd(v, b1, Vector512.Load(tile + 16)).Store(tile + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Emit(PanelEpilogue op, Vector512<float> product, float* target)
    {
        if (op == PanelEpilogue.Store) product.Store(target);
        else if (op == PanelEpilogue.Accumulate) (Vector512.Load(target) + product).Store(target);
        else
        {
            var gate = Vector512.Load(target);
            (gate * product / (Vector512<float>.One + Vector512.Exp(-gate))).Store(target);
        }
    }

    // HF's rotate-half, as RotaryKernel computes it: low' = low cos - high sin, high' = high cos + low sin,
    // with low stored by the partner panel half a head to the left.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Rotate(Vector512<float> high, float* target, float* cos, float* sin, int halfHead)
    {
        float* lowTarget = target - halfHead;
        var low = Vector512.Load(lowTarget);
        (low * Vector512.Load(cos) - high * Vector512.Load(sin)).Store(lowTarget);
        (high * Vector512.Load(cos + halfHead) + low * Vector512.Load(sin + halfHead)).Store(target);
    }

    // A partial panel's columns go one at a time, with the vectors' arithmetic, so a row's outputs do not
    // depend on where it lies in the batch. Paired panels are always whole.
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void EmitTile(in Finish finish, float* tile, int firstRow, int rows, int columns, float* c, long ldc)
    {
        var op = finish.Op;
        for (int r = 0; r < rows; r++, tile += PanelColumns, c += ldc)
        {
            if (op == PanelEpilogue.Rotate)
            {
                long table = finish.Angles.Positions[firstRow + r] * finish.Angles.HeadDim + finish.Frequency;
                float* cos = finish.Angles.Cos + table, sin = finish.Angles.Sin + table;
                Rotate(Vector512.Load(tile), c, cos, sin, finish.HalfHead);
                Rotate(Vector512.Load(tile + 16), c + 16, cos + 16, sin + 16, finish.HalfHead);
            }
            else if (columns == PanelColumns)
            {
                Emit(op, Vector512.Load(tile), c);
                Emit(op, Vector512.Load(tile + 16), c + 16);
            }
            else if (op == PanelEpilogue.Accumulate)
                for (int j = 0; j < columns; j++) c[j] += tile[j];
            else new ReadOnlySpan<float>(tile, columns).CopyTo(new Span<float>(c, columns));
        }
    }
}
