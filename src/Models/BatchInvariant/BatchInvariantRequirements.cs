using System.Runtime.Intrinsics;
using Rollout.Models.Configuration;
using TorchSharp;

namespace Rollout.Models.BatchInvariant;

/// <summary>
/// What <see cref="CpuKernels.BatchInvariant"/> needs of a model, checked when the model is created: its kernels run
/// fp32 on the CPU over whole 8-float vectors, and a layer they could not take would fall back to an operation whose
/// result depends on the batch, silently breaking the mode's one promise.
/// </summary>
internal static class BatchInvariantRequirements
{
    /// <exception cref="NotSupportedException">The device, dtype, CPU or a dimension of the model rules the mode out; the message names which.</exception>
    public static void Check(ModelConfig config, ModelOptions options)
    {
        if (options.Device.type != DeviceType.CPU) throw new NotSupportedException($"the batch-invariant kernels run on the CPU, not {options.Device}");
        if (options.DType != torch.ScalarType.Float32) throw new NotSupportedException($"the batch-invariant kernels compute in float32, not {options.DType}");
        if (!Vector256.IsHardwareAccelerated) throw new NotSupportedException("the batch-invariant kernels need 256-bit vector instructions, which this CPU lacks");
        const int lanes = 8;
        foreach (var (name, size) in new[] { ("hidden_size", config.HiddenSize), ("head_dim", config.HeadDim), ("intermediate_size", config.IntermediateSize) })
        {
            if (size % lanes != 0)
                throw new NotSupportedException($"the batch-invariant kernels need {name} to be a multiple of {lanes}, and this model's is {size}");
        }
    }
}
