using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rollout.Models.Kernels;

/// <summary>
/// fp32 y = x Wᵀ on the CPU against a weight repacked once into column panels: panel p holds columns
/// [32p, 32p + 32) of Wᵀ as K rows of 32 contiguous floats (the last panel zero-padded), so a tile of
/// input rows keeps its outputs in vector registers while it streams one panel front to back: 8 rows
/// by the panel's 32 columns in 16 AVX-512 accumulators, or, with AVX2 only, 6 rows by one half of the
/// panel in 12 (the register tiles are in PanelGemm.Avx512.cs and PanelGemm.Avx2.cs). Each thread walks
/// its own contiguous share of the panels and, while it multiplies one, prefetches the next into its own
/// core's cache: with the weights streamed from memory, as in a decode step, MKL's packed products ran
/// markedly slower than on weights already in cache, and this kernel does not (figures in
/// docs/performance-log.md). The panels are as large as the weight itself, where MKL's packed copies
/// were several times larger.
/// A finished tile can take the pass that would follow the product with it (<see cref="PanelEpilogue"/>:
/// the residual add, SwiGLU's activation, the rotary embedding), its panels ordered for it by a
/// <see cref="PanelLayout"/>.
/// </summary>
internal static unsafe partial class PanelGemm
{
    /// <summary>Output columns of one panel.</summary>
    public const int PanelColumns = 32;

    // The tile buffer's rows: the larger of the two register tiles'.
    const int MaxTileRows = 8;

    // Below this many multiply-adds one thread is faster than waking a second (tiny test models).
    const long SerialWork = 1L << 18;

    /// <summary>Whether this CPU runs the kernel (AVX-512F, or AVX2 with FMA).</summary>
    public static bool IsSupported => Avx512F.IsSupported || Avx2.IsSupported && Fma.IsSupported;

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
        int count = PanelCount(outFeatures);
        var work = new Work(input, rows, inFeatures, panels, outFeatures, output, layout, epilogue, angles);
        if ((long)rows * outFeatures * inFeatures < SerialWork)
        {
            work.Run(0, count);
            return;
        }
        // A task per group of panels, claimed as TaskShares hands them out: each thread walks its own share
        // front to back, so the panel it prefetches is the one it takes next, and a thread whose core is
        // taken for a while leaves the tail of its share to the other instead of keeping the caller waiting.
        CpuParallel.For(count / layout.Group, g => work.Run(g * layout.Group, (g + 1) * layout.Group));
    }

    readonly struct Work(float* input, int rows, int k, float* panels, int n, float* output, PanelLayout layout, PanelEpilogue epilogue, RotaryAngles angles)
    {
        public void Run(int first, int end)
        {
            float* tile = stackalloc float[MaxTileRows * PanelColumns];
            int ldc = layout.HalvesOutput ? n / 2 : n, count = PanelCount(n);
            for (int p = first; p < end; p++)
            {
                float* panel = panels + (long)p * k * PanelColumns;
                float* next = p + 1 < count ? panel + (long)k * PanelColumns : null;
                int column = layout.OutputColumn(p), weightRow = layout.WeightRow(p, n);
                int columns = Math.Min(PanelColumns, n - weightRow);
                var finish = new Finish(layout.Finish(p, epilogue), angles, layout.HalfHead, column);
                if (Avx512F.IsSupported)
                {
                    if (rows == 1) RowAvx512(input, k, panel, output + column, columns, tile, finish);
                    else TilesAvx512(input, rows, k, panel, next, output + column, ldc, columns, tile, finish);
                }
                else if (rows == 1) RowAvx2(input, k, panel, output + column, columns, tile, finish);
                else TilesAvx2(input, rows, k, panel, next, output + column, ldc, columns, tile, finish);
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

    // A single row (a batch-1 decode) reads the panel once and is bound by memory. Prefetching the next
    // panel, as the tiles do, measured slower there than the hardware's own streaming; but those streams
    // stop at every 4 KB page, so every 2 KB the row touches the line a page ahead, and the next page's
    // stream has started when the row gets there. That made the products of a batch-1 decode step faster
    // than the row without it (figures in docs/performance-log.md).
    const int PageAheadBytes = 4096;
    const int PageTouchRows = 2048 / (PanelColumns * sizeof(float));

    // An odd K's last row of the panel, added to the tile's rows.
    static void AddLastRow(float* a0, int rows, int k, float* lastRow, float* tile)
    {
        for (int r = 0; r < rows; r++, tile += PanelColumns)
        {
            var v = Vector256.Create(a0[(long)r * k + k - 1]);
            for (int j = 0; j < PanelColumns; j += Vector256<float>.Count)
                Vector256.FusedMultiplyAdd(v, Vector256.Load(lastRow + j), Vector256.Load(tile + j)).Store(tile + j);
        }
    }

    // The epilogues work in 256-bit vectors on either instruction set: they are a small share of a tile's
    // work, and a row's outputs are then the same bits whichever register tile computed its product.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Emit(PanelEpilogue op, Vector256<float> product, float* target)
    {
        if (op == PanelEpilogue.Store) product.Store(target);
        else if (op == PanelEpilogue.Accumulate) (Vector256.Load(target) + product).Store(target);
        else
        {
            var gate = Vector256.Load(target);
            (gate * product / (Vector256<float>.One + Vector256.Exp(-gate))).Store(target);
        }
    }

    // HF's rotate-half, as RotaryKernel computes it: low' = low cos - high sin, high' = high cos + low sin,
    // with low stored by the partner panel half a head to the left.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Rotate(Vector256<float> high, float* target, float* cos, float* sin, int halfHead)
    {
        float* lowTarget = target - halfHead;
        var low = Vector256.Load(lowTarget);
        (low * Vector256.Load(cos) - high * Vector256.Load(sin)).Store(lowTarget);
        (high * Vector256.Load(cos + halfHead) + low * Vector256.Load(sin + halfHead)).Store(target);
    }

    // A partial panel's columns go one at a time, with the vectors' arithmetic, so a row's outputs do not
    // depend on where it lies in the batch. Paired panels are always whole.
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void EmitTile(in Finish finish, float* tile, int firstRow, int rows, int columns, float* c, long ldc)
    {
        var op = finish.Op;
        const int lanes = 8;
        for (int r = 0; r < rows; r++, tile += PanelColumns, c += ldc)
        {
            if (op == PanelEpilogue.Rotate)
            {
                long table = finish.Angles.Positions[firstRow + r] * finish.Angles.HeadDim + finish.Frequency;
                float* cos = finish.Angles.Cos + table, sin = finish.Angles.Sin + table;
                for (int j = 0; j < PanelColumns; j += lanes) Rotate(Vector256.Load(tile + j), c + j, cos + j, sin + j, finish.HalfHead);
            }
            else if (columns == PanelColumns)
            {
                for (int j = 0; j < PanelColumns; j += lanes) Emit(op, Vector256.Load(tile + j), c + j);
            }
            else if (op == PanelEpilogue.Accumulate)
                for (int j = 0; j < columns; j++) c[j] += tile[j];
            else new ReadOnlySpan<float>(tile, columns).CopyTo(new Span<float>(c, columns));
        }
    }

    // Spreads the prefetches of a thread's next panel evenly over the loop steps of this one.
    struct NextPanelPrefetch
    {
        float* _line;
        readonly float* _end;
        readonly int _stride, _perStride;
        int _countdown;

        public NextPanelPrefetch(float* next, int k, int steps)
        {
            _line = next;
            _end = next == null ? null : next + (long)k * PanelColumns;
            int lines = k * PanelColumns * sizeof(float) / 64;
            steps = Math.Max(1, steps);
            _stride = Math.Max(1, steps / Math.Max(1, lines));
            _perStride = Math.Max(1, (lines + steps - 1) / steps);
            _countdown = _stride;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Step()
        {
            if (_line == null || --_countdown != 0) return;
            _countdown = _stride;
            for (int j = 0; j < _perStride && _line < _end; j++, _line += 64 / sizeof(float)) Sse.Prefetch0(_line);
        }
    }
}
