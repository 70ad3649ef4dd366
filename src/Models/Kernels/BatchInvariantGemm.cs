using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// y = x Wᵀ + b on the CPU in fp32 where every output is one fixed sequence of operations: eight lane-wise fused
/// multiply-adds over k in order, one fixed horizontal sum, then the bias. Which other rows x has, how the work is
/// tiled and which thread computes it change none of it, so a row's result is the same bits in a decode of one, a
/// batch of 64 and a training forward over whole sequences. BLAS products pick their blocking, and with it the
/// order of the sums, by the shape: a row's result moves in its last bits with the batch.
/// </summary>
internal static unsafe class BatchInvariantGemm
{
    const int Lanes = 8;
    // Columns per task: their weight rows stay in L2 while every row of x streams past them.
    const int ColumnsPerTask = 64;
    // Multiply-adds below which waking a second thread costs more than it saves.
    const long ParallelWork = 1L << 20;

    /// <summary>Whether the kernel can multiply <paramref name="input"/> [.., K] by <paramref name="weight"/> [N, K], in or outside gradient mode.</summary>
    public static bool Fits(Tensor input, Tensor weight, Tensor? bias) =>
        CpuFloatKernels.Fit(input, weight) && weight.dim() == 2 && weight.is_contiguous() && input.shape[^1] == weight.shape[1]
        && weight.shape[1] % Lanes == 0 && weight.shape[0] <= int.MaxValue && (bias is null || CpuFloatKernels.Fit(bias) && bias.is_contiguous());

    /// <summary>x Wᵀ + b, [.., N], as a new tensor.</summary>
    public static Tensor Multiply(Tensor input, Tensor weight, Tensor? bias)
    {
        int k = (int)weight.shape[1], n = (int)weight.shape[0];
        var inputShape = input.shape;
        // Most callers pass contiguous [rows, K]: no reshape, copy or view for them, which a small product would feel.
        var x = inputShape.Length == 2 && input.is_contiguous() ? input : input.reshape(-1, k).contiguous();
        long m = x.shape[0];
        var output = empty([.. inputShape[..^1], n], ScalarType.Float32);
        float* xp = TensorData.Floats(x), wp = TensorData.Floats(weight), yp = TensorData.Floats(output);
        float* bp = bias is null ? null : TensorData.Floats(bias);
        if (m * n * k < ParallelWork)
        {
            Columns(xp, wp, bp, yp, m, k, n, 0, n);
        }
        else
        {
            CpuParallel.For((n + ColumnsPerTask - 1) / ColumnsPerTask, t =>
            {
                int first = t * ColumnsPerTask, end = Math.Min(n, first + ColumnsPerTask);
                Columns(xp, wp, bp, yp, m, k, n, first, end);
            });
        }
        if (!ReferenceEquals(x, input)) x.Dispose();
        return output;
    }

    // Tiles of three rows by four columns: twelve accumulators, three row vectors and one weight vector fill the sixteen vector registers.
    static void Columns(float* x, float* w, float* bias, float* y, long m, int k, int n, int first, int end)
    {
        long row = 0;
        for (; row + 3 <= m; row += 3)
        {
            int column = first;
            for (; column + 4 <= end; column += 4) Tile3x4(x + row * k, w + (long)column * k, y + row * n + column, bias is null ? null : bias + column, k, n);
            for (; column < end; column++)
                for (long r = row; r < row + 3; r++) y[r * n + column] = One(x + r * k, w + (long)column * k, bias is null ? 0f : bias[column], k);
        }
        for (; row < m; row++)
            for (int column = first; column < end; column++) y[row * n + column] = One(x + row * k, w + (long)column * k, bias is null ? 0f : bias[column], k);
    }

    static void Tile3x4(float* x, float* w, float* y, float* bias, int k, int n)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        float* x1 = x + k, x2 = x1 + k;
        for (int i = 0; i < k; i += Lanes)
        {
            var r0 = Vector256.Load(x + i);
            var r1 = Vector256.Load(x1 + i);
            var r2 = Vector256.Load(x2 + i);
            var c = Vector256.Load(w + i);
            a00 = Vector256.FusedMultiplyAdd(r0, c, a00); a10 = Vector256.FusedMultiplyAdd(r1, c, a10); a20 = Vector256.FusedMultiplyAdd(r2, c, a20);
            c = Vector256.Load(w + k + i);
            a01 = Vector256.FusedMultiplyAdd(r0, c, a01); a11 = Vector256.FusedMultiplyAdd(r1, c, a11); a21 = Vector256.FusedMultiplyAdd(r2, c, a21);
            c = Vector256.Load(w + 2L * k + i);
            a02 = Vector256.FusedMultiplyAdd(r0, c, a02); a12 = Vector256.FusedMultiplyAdd(r1, c, a12); a22 = Vector256.FusedMultiplyAdd(r2, c, a22);
            c = Vector256.Load(w + 3L * k + i);
            a03 = Vector256.FusedMultiplyAdd(r0, c, a03); a13 = Vector256.FusedMultiplyAdd(r1, c, a13); a23 = Vector256.FusedMultiplyAdd(r2, c, a23);
        }
        Store(y, a00, a01, a02, a03, bias);
        Store(y + n, a10, a11, a12, a13, bias);
        Store(y + 2L * n, a20, a21, a22, a23, bias);
    }

    static void Store(float* y, Vector256<float> c0, Vector256<float> c1, Vector256<float> c2, Vector256<float> c3, float* bias)
    {
        y[0] = Finish(c0, bias is null ? 0f : bias[0]);
        y[1] = Finish(c1, bias is null ? 0f : bias[1]);
        y[2] = Finish(c2, bias is null ? 0f : bias[2]);
        y[3] = Finish(c3, bias is null ? 0f : bias[3]);
    }

    // The same operations as one accumulator of Tile3x4, for the rows and columns that fill no tile.
    static float One(float* x, float* w, float bias, int k)
    {
        Vector256<float> sum = default;
        for (int i = 0; i < k; i += Lanes) sum = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(w + i), sum);
        return Finish(sum, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish(Vector256<float> sum, float bias) => Vector256.Sum(sum) + bias;
}
