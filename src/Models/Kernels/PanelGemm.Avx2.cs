using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rollout.Models.Kernels;

// PanelGemm's register tiles with AVX2 only: sixteen 8-float registers hold 6 rows by half a panel (12
// accumulators), that half's two vectors of a K row and one broadcast input; a whole panel would leave
// too few rows a tile to keep the multiply-adds ahead of the loads.
internal static unsafe partial class PanelGemm
{
    const int Avx2TileRows = 6;
    const int HalfPanel = PanelColumns / 2;

    // One panel against every row, 6 rows a tile, each tile in two passes over the panel (its left then
    // its right half). Missing rows of the last tile read the tile's first row and are dropped; a partial
    // panel's padding columns are dropped the same way.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TilesAvx2(float* x, int m, int k, float* b, float* next, float* c, int ldc, int columns, float* tile, in Finish finish)
    {
        int tiles = (m + Avx2TileRows - 1) / Avx2TileRows;
        var prefetch = new NextPanelPrefetch(next, k, tiles * 2 * (k / 2));
        for (int t = 0; t < tiles; t++)
        {
            int rows = Math.Min(Avx2TileRows, m - t * Avx2TileRows);
            float* a0 = x + (long)t * Avx2TileRows * k;
            float* a1 = rows > 1 ? a0 + k : a0, a2 = rows > 2 ? a0 + 2 * k : a0, a3 = rows > 3 ? a0 + 3 * k : a0;
            float* a4 = rows > 4 ? a0 + 4 * k : a0, a5 = rows > 5 ? a0 + 5 * k : a0;
            for (int half = 0; half < PanelColumns; half += HalfPanel)
            {
                var c00 = Vector256<float>.Zero; var c01 = c00; var c10 = c00; var c11 = c00; var c20 = c00; var c21 = c00;
                var c30 = c00; var c31 = c00; var c40 = c00; var c41 = c00; var c50 = c00; var c51 = c00;
                float* bk = b + half;
                // Two K rows a step, as the AVX-512 tile takes them.
                for (int i = 0; i + 1 < k; i += 2)
                {
                    prefetch.Step();
                    var b0 = Vector256.Load(bk);
                    var b1 = Vector256.Load(bk + 8);
                    var v = Vector256.Create(a0[i]); c00 = Fma.MultiplyAdd(v, b0, c00); c01 = Fma.MultiplyAdd(v, b1, c01);
                    v = Vector256.Create(a1[i]); c10 = Fma.MultiplyAdd(v, b0, c10); c11 = Fma.MultiplyAdd(v, b1, c11);
                    v = Vector256.Create(a2[i]); c20 = Fma.MultiplyAdd(v, b0, c20); c21 = Fma.MultiplyAdd(v, b1, c21);
                    v = Vector256.Create(a3[i]); c30 = Fma.MultiplyAdd(v, b0, c30); c31 = Fma.MultiplyAdd(v, b1, c31);
                    v = Vector256.Create(a4[i]); c40 = Fma.MultiplyAdd(v, b0, c40); c41 = Fma.MultiplyAdd(v, b1, c41);
                    v = Vector256.Create(a5[i]); c50 = Fma.MultiplyAdd(v, b0, c50); c51 = Fma.MultiplyAdd(v, b1, c51);
                    b0 = Vector256.Load(bk + PanelColumns);
                    b1 = Vector256.Load(bk + PanelColumns + 8);
                    v = Vector256.Create(a0[i + 1]); c00 = Fma.MultiplyAdd(v, b0, c00); c01 = Fma.MultiplyAdd(v, b1, c01);
                    v = Vector256.Create(a1[i + 1]); c10 = Fma.MultiplyAdd(v, b0, c10); c11 = Fma.MultiplyAdd(v, b1, c11);
                    v = Vector256.Create(a2[i + 1]); c20 = Fma.MultiplyAdd(v, b0, c20); c21 = Fma.MultiplyAdd(v, b1, c21);
                    v = Vector256.Create(a3[i + 1]); c30 = Fma.MultiplyAdd(v, b0, c30); c31 = Fma.MultiplyAdd(v, b1, c31);
                    v = Vector256.Create(a4[i + 1]); c40 = Fma.MultiplyAdd(v, b0, c40); c41 = Fma.MultiplyAdd(v, b1, c41);
                    v = Vector256.Create(a5[i + 1]); c50 = Fma.MultiplyAdd(v, b0, c50); c51 = Fma.MultiplyAdd(v, b1, c51);
                    bk += 2 * PanelColumns;
                }
                float* row = tile + half;
                c00.Store(row); c01.Store(row + 8); row += PanelColumns;
                c10.Store(row); c11.Store(row + 8); row += PanelColumns;
                c20.Store(row); c21.Store(row + 8); row += PanelColumns;
                c30.Store(row); c31.Store(row + 8); row += PanelColumns;
                c40.Store(row); c41.Store(row + 8); row += PanelColumns;
                c50.Store(row); c51.Store(row + 8);
            }
            if (k % 2 == 1) AddLastRow(a0, rows, k, b + (long)(k - 1) * PanelColumns, tile);
            EmitTile(finish, tile, t * Avx2TileRows, rows, columns, c + (long)t * Avx2TileRows * ldc, ldc);
        }
    }

    // A single row (a batch-1 decode) reads the panel once and is bound by memory: no tile (see PageAheadBytes).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowAvx2(float* x, int k, float* b, float* c, int columns, float* tile, in Finish finish)
    {
        var c0 = Vector256<float>.Zero; var c1 = c0; var c2 = c0; var c3 = c0;
        var d0 = c0; var d1 = c0; var d2 = c0; var d3 = c0;
        float* bk = b;
        int i = 0;
        for (; i + 1 < k; i += 2, bk += 2 * PanelColumns)
        {
            if ((i & (PageTouchRows - 1)) == 0) Sse.Prefetch0((byte*)bk + PageAheadBytes);
            var v = Vector256.Create(x[i]);
            c0 = Fma.MultiplyAdd(v, Vector256.Load(bk), c0);
            c1 = Fma.MultiplyAdd(v, Vector256.Load(bk + 8), c1);
            c2 = Fma.MultiplyAdd(v, Vector256.Load(bk + 16), c2);
            c3 = Fma.MultiplyAdd(v, Vector256.Load(bk + 24), c3);
            v = Vector256.Create(x[i + 1]);
            d0 = Fma.MultiplyAdd(v, Vector256.Load(bk + 32), d0);
            d1 = Fma.MultiplyAdd(v, Vector256.Load(bk + 40), d1);
            d2 = Fma.MultiplyAdd(v, Vector256.Load(bk + 48), d2);
            d3 = Fma.MultiplyAdd(v, Vector256.Load(bk + 56), d3);
        }
        if (i < k)
        {
            var v = Vector256.Create(x[i]);
            c0 = Fma.MultiplyAdd(v, Vector256.Load(bk), c0);
            c1 = Fma.MultiplyAdd(v, Vector256.Load(bk + 8), c1);
            c2 = Fma.MultiplyAdd(v, Vector256.Load(bk + 16), c2);
            c3 = Fma.MultiplyAdd(v, Vector256.Load(bk + 24), c3);
        }
        (c0 + d0).Store(tile);
        (c1 + d1).Store(tile + 8);
        (c2 + d2).Store(tile + 16);
        (c3 + d3).Store(tile + 24);
        EmitTile(finish, tile, 0, 1, columns, c, 0);
    }
}
