namespace Rollout.Models;

/// <summary>Which code fp32 inference on the CPU runs: the project's fast path, or libtorch's operations alone.</summary>
public enum CpuKernels
{
    /// <summary>
    /// Everything this project adds for the CPU, where the CPU and dtype allow it: weights packed once
    /// into column panels multiplied by the AVX-512 <c>PanelGemm</c> kernel (the weights' memory once
    /// more), the fused norm, rotary and SwiGLU kernels, the paged decode-attention kernel, the KV slot
    /// writer and greedy argmax, C# kernels forked onto libtorch's OpenMP team, and MKL's AVX-512
    /// kernels on non-Intel CPUs (<see cref="Native.ProcessPatches"/>).
    /// </summary>
    Fast,

    /// <summary>
    /// libtorch's operations only, with MKL as shipped: the path other devices take, slower on the CPU,
    /// and the reference the fast path is tested against.
    /// </summary>
    Reference,
}
