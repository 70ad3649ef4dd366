using TorchSharp;

namespace Rollout.Models;

/// <summary>Where a model's parameters live and in which dtype it computes.</summary>
public sealed record ModelOptions
{
    /// <summary>The device of every parameter and activation (CPU by default; CUDA where the CUDA package is referenced).</summary>
    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>Parameter and activation dtype: Float32 (default) or BFloat16/Float16.</summary>
    public torch.ScalarType DType { get; init; } = torch.ScalarType.Float32;
}
