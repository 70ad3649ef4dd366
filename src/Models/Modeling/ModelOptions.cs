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
    /// The CPU fast path (<see cref="Models.CpuKernels.Fast"/>, the default), libtorch alone
    /// (<see cref="Models.CpuKernels.Reference"/>) or the batch-invariant kernels (<see cref="Models.CpuKernels.BatchInvariant"/>):
    /// one switch for every custom kernel and native patch.
    /// </summary>
    public CpuKernels CpuKernels { get; init; } = CpuKernels.Fast;

    /// <summary>Whether the fast path's kernels may run (they still check device, dtype and CPU features per call).</summary>
    internal bool FastCpuKernels => CpuKernels == CpuKernels.Fast;

    /// <summary>Whether products, attention, norms and SwiGLU take the batch-invariant kernels (they still check device, dtype and shapes per call).</summary>
    internal bool BatchInvariant => CpuKernels == CpuKernels.BatchInvariant;
}
