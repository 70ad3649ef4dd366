using TorchSharp;

namespace Rollout.Models;

/// <summary>Where a model's parameters live and in which dtype it computes.</summary>
public sealed record ModelOptions
{
    /// <summary>The device of every parameter and activation (CPU by default; CUDA where the CUDA package is referenced).</summary>
    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>Parameter and activation dtype: Float32 (default) or BFloat16/Float16.</summary>
    public torch.ScalarType DType { get; init; } = torch.ScalarType.Float32;

    /// <summary>
    /// Whether fp32 inference on an AVX-512 CPU (outside gradient mode) multiplies by weights packed
    /// once into column panels rather than through libtorch's MKL, which re-packs them on every
    /// product: about 1.5x faster matmuls at decode batch sizes, for the weights' memory once more in
    /// packed copies (made at the first inference call and re-made after any in-place change of a
    /// weight). On by default.
    /// </summary>
    public bool PackCpuWeights { get; init; } = true;

    /// <summary>
    /// Whether fp32 inference on the CPU runs norms, rotary embedding and the SwiGLU product through the
    /// fused C# kernels of <c>Rollout.Models.Kernels</c> rather than chains of libtorch operations. On
    /// by default; off only to test one path against the other.
    /// </summary>
    internal bool FusedCpuKernels { get; init; } = true;
}
