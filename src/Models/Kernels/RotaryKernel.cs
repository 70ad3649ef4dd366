using System.Runtime.Intrinsics;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// Rotary position embedding in HF's rotate-half layout, each head of each token in one pass:
/// y[i] = x[i] cos[i] - x[i + D/2] sin[i] and y[i + D/2] = x[i + D/2] cos[i + D/2] + x[i] sin[i + D/2],
/// where libtorch takes ten operations (two lookups, a negation, a concatenation, products and a sum).
/// </summary>
internal static unsafe class RotaryKernel
{
    // As for RmsNormKernel: decode batches stay on one thread, prefills split.
    const long Grain = 1 << 18;

    /// <summary>
    /// Whether the kernel can rotate <paramref name="x"/> [T, heads, D] at <paramref name="positions"/>
    /// (int64 [T]) with tables [length, D].
    /// </summary>
    public static bool Supports(Tensor x, Tensor positions, Tensor cos, Tensor sin) =>
        CpuFloatKernels.Accept(x) && x.dim() == 3 && FloatRows.Fits(x) && x.shape[^1] % (2 * Vector256<float>.Count) == 0
        && cos.shape[^1] == x.shape[^1] && SupportsTables(positions, x.shape[0], cos, sin);

    /// <summary>Whether <paramref name="positions"/> (int64 [<paramref name="tokens"/>]) and the fp32 tables [length, D] can be read in place.</summary>
    public static bool SupportsTables(Tensor positions, long tokens, Tensor cos, Tensor sin) =>
        CpuFloatKernels.Accept(cos, sin) && cos.dim() == 2 && cos.is_contiguous() && sin.is_contiguous() && sin.shape.SequenceEqual(cos.shape)
        && positions.device_type == DeviceType.CPU && positions.dtype == ScalarType.Int64 && positions.is_contiguous()
        && positions.dim() == 1 && positions.shape[0] == tokens;

    /// <exception cref="ArgumentOutOfRangeException">A position is negative or not below <paramref name="tableLength"/>.</exception>
    public static void CheckPositions(Tensor positions, long tableLength)
    {
        long* position = TensorData.Longs(positions);
        for (long t = 0; t < positions.shape[0]; t++)
            if ((ulong)position[t] >= (ulong)tableLength)
                throw new ArgumentOutOfRangeException(nameof(positions), position[t], $"position outside the rotary tables [0, {tableLength})");
    }

    /// <summary>The rotated <paramref name="x"/>, as a new contiguous tensor.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A position is negative or past the tables.</exception>
    public static Tensor Rotate(Tensor x, Tensor positions, Tensor cos, Tensor sin)
    {
        long heads = x.shape[1], d = x.shape[2];
        CheckPositions(positions, cos.shape[0]);
        long* position = TensorData.Longs(positions);
        var output = empty(x.shape, ScalarType.Float32);
        var rows = new FloatRows(x);
        float* y = TensorData.Floats(output), c = TensorData.Floats(cos), s = TensorData.Floats(sin);
        CpuParallel.ForRows(rows.Count, d, Grain, (first, end) =>
        {
            for (long r = first; r < end; r++)
            {
                long table = position[r / heads] * d;
                Row(rows[r], y + r * d, c + table, s + table, (int)d);
            }
        });
        return output;
    }

    static void Row(float* x, float* y, float* cos, float* sin, int d)
    {
        int half = d / 2;
        for (int i = 0; i < half; i += Vector256<float>.Count)
        {
            var low = Vector256.Load(x + i);
            var high = Vector256.Load(x + half + i);
            (low * Vector256.Load(cos + i) - high * Vector256.Load(sin + i)).Store(y + i);
            (high * Vector256.Load(cos + half + i) + low * Vector256.Load(sin + half + i)).Store(y + half + i);
        }
    }
}
