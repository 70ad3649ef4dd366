using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// When a C# kernel (<see cref="RmsNormKernel"/>, <see cref="RotaryKernel"/>, <see cref="SwiGluKernel"/>,
/// <see cref="PanelGemm"/> through the packed linear layers, and the engine's KV slot writer and greedy
/// argmax) may stand in for libtorch operations: fp32 on the
/// CPU, outside gradient mode (they record nothing for autograd), with 256-bit vectors. Each replaces
/// one or several framework calls, each with its own pass over memory and its own thread fork, by one pass.
/// </summary>
internal static class CpuFloatKernels
{
    /// <summary>Whether <paramref name="tensors"/> are all fp32 CPU tensors the kernels may read and write now.</summary>
    public static bool Accept(params ReadOnlySpan<Tensor> tensors) => !is_grad_enabled() && Fit(tensors);

    /// <summary>
    /// Whether <paramref name="tensors"/> are all fp32 CPU tensors the kernels can read and write, in or outside
    /// gradient mode: the batch-invariant mode's custom autograd functions call them under autograd.
    /// </summary>
    public static bool Fit(params ReadOnlySpan<Tensor> tensors)
    {
        if (!Vector256.IsHardwareAccelerated) return false;
        foreach (var t in tensors)
            if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || t.numel() == 0) return false;
        return true;
    }
}
