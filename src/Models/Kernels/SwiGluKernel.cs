using System.Runtime.Intrinsics;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// silu(gate) * up over a fused gate-up projection's output [.., 2I] (gate first): one pass where
/// libtorch takes two operations and a temporary the size of the result.
/// </summary>
internal static unsafe class SwiGluKernel
{
    // The exponential makes each element dearer than a norm's, so threads pay off sooner; a decode batch
    // of 64 (64 x 2048 elements here) still runs on one thread.
    const long Grain = 1 << 17;

    /// <summary>Whether the kernel can combine <paramref name="gateUp"/>'s halves.</summary>
    public static bool Supports(Tensor gateUp) => !is_grad_enabled() && Fits(gateUp);

    /// <summary>As <see cref="Supports"/>, in or outside gradient mode (for a custom autograd function to call it).</summary>
    public static bool Fits(Tensor gateUp) =>
        CpuFloatKernels.Fit(gateUp) && gateUp.is_contiguous() && gateUp.shape[^1] % (2 * Vector256<float>.Count) == 0;

    /// <summary>silu(gate) * up, [.., I], as a new contiguous tensor.</summary>
    public static Tensor Apply(Tensor gateUp)
    {
        long intermediate = gateUp.shape[^1] / 2, rows = gateUp.numel() / gateUp.shape[^1];
        var output = empty([.. gateUp.shape[..^1], intermediate], ScalarType.Float32);
        float* x = TensorData.Floats(gateUp), y = TensorData.Floats(output);
        CpuParallel.ForRows(rows, intermediate, Grain, (first, end) =>
        {
            for (long r = first; r < end; r++) Row(x + r * 2 * intermediate, y + r * intermediate, (int)intermediate);
        });
        return output;
    }

    static void Row(float* gateUp, float* output, int intermediate)
    {
        var one = Vector256<float>.One;
        for (int i = 0; i < intermediate; i += Vector256<float>.Count)
        {
            var gate = Vector256.Load(gateUp + i);
            var up = Vector256.Load(gateUp + intermediate + i);
            (gate * up / (one + Vector256.Exp(-gate))).Store(output + i);
        }
    }
}
