using System.Runtime.Intrinsics;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// RMSNorm of each row, y = w * (x / sqrt(mean(x²) + eps)): one pass where libtorch takes six
/// operations, each a pass over the activations. (The residual add before it joins the product before
/// that: <see cref="PanelEpilogue.Accumulate"/>.)
/// </summary>
internal static unsafe class RmsNormKernel
{
    // Elements per task. Waking a second thread costs about what a single thread needs for this many
    // (more in a VM, where it takes an interrupt); decode batches stay on one thread.
    const long Grain = 1 << 18;

    /// <summary>Whether the kernel can normalise <paramref name="input"/>'s rows by <paramref name="weight"/>.</summary>
    public static bool Supports(Tensor input, Tensor weight) => !is_grad_enabled() && Fits(input, weight);

    /// <summary>As <see cref="Supports"/>, in or outside gradient mode (for a custom autograd function to call it).</summary>
    public static bool Fits(Tensor input, Tensor weight) =>
        CpuFloatKernels.Fit(input, weight) && FloatRows.Fits(input) && input.shape[^1] % Vector256<float>.Count == 0
        && weight.is_contiguous() && weight.numel() == input.shape[^1];

    /// <summary>The normalised rows of <paramref name="input"/>, as a new contiguous tensor of its shape.</summary>
    public static Tensor Normalize(Tensor input, Tensor weight, double eps)
    {
        var output = empty(input.shape, ScalarType.Float32);
        var x = new FloatRows(input);
        var y = new FloatRows(output);
        float* w = TensorData.Floats(weight);
        float epsilon = (float)eps;
        CpuParallel.ForRows(x.Count, x.Length, Grain, (first, end) =>
        {
            for (long r = first; r < end; r++) Row(x[r], y[r], w, (int)x.Length, epsilon);
        });
        return output;
    }

    static void Row(float* x, float* output, float* weight, int n, float eps)
    {
        const int lanes = 8;
        var squares = Vector256<float>.Zero;
        for (int i = 0; i < n; i += lanes)
        {
            var v = Vector256.Load(x + i);
            squares = Vector256.FusedMultiplyAdd(v, v, squares);
        }
        var scale = Vector256.Create(1f / MathF.Sqrt(Vector256.Sum(squares) / n + eps));
        for (int i = 0; i < n; i += lanes)
            (Vector256.Load(weight + i) * (Vector256.Load(x + i) * scale)).Store(output + i);
    }
}
