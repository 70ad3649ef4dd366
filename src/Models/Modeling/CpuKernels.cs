namespace Rollout.Models;

/// <summary>Which code fp32 inference on the CPU runs: the project's fast path, or libtorch's operations alone.</summary>
public enum CpuKernels
{
    /// <summary>
    /// Everything this project adds for the CPU, where the CPU and dtype allow it: weights packed once
    /// into column panels multiplied by the <c>PanelGemm</c> kernel (AVX-512, or AVX2 with FMA; the weights' memory once
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

    /// <summary>
    /// Every row computes the same bits whatever else is in the batch, in the engine (decode, speculative verify,
    /// chunked prefill) and in a training forward with gradients alike: products through a batch-invariant kernel
    /// (<c>BatchInvariantGemm</c>: each output one fixed sequence of operations), attention of every query row
    /// through the paged attention kernel in one fixed order, and the norm and SwiGLU kernels; under autograd
    /// each is a custom function whose backward is libtorch's. The engine's logprobs then equal a trainer's
    /// recomputation bit for bit. fp32 on the CPU; slower than <see cref="Fast"/> (figures in docs/performance.md).
    /// </summary>
    BatchInvariant,
}
