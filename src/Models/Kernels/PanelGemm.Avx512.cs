using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rollout.Models.Kernels;

// PanelGemm's register tiles on AVX-512: 8 rows by a whole panel, 16 accumulators of 16 floats.
internal static unsafe partial class PanelGemm
{
    const int TileRows = 8;

    // One panel against every row, 8 rows by 32 columns a tile. Missing rows of the last tile read the tile's first
    // row and are dropped; a partial panel's padding columns are dropped the same way.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TilesAvx512(float* x, int m, int k, float* b, float* next, float* c, int ldc, int columns, float* tile, in Finish finish)
    {
        int tiles = (m + TileRows - 1) / TileRows;
        var prefetch = new NextPanelPrefetch(next, k, tiles * (k / 2));
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
                prefetch.Step();
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

    // A single row (a batch-1 decode) reads the panel once and is bound by memory: no tile (see PageAheadBytes).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowAvx512(float* x, int k, float* b, float* c, int columns, float* tile, in Finish finish)
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
}
