using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rollout.Models.Kernels;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Execution;

/// <summary>
/// Writes a step's new keys or values into their cache slots with one row copy each, on the CPU in
/// fp32, in place of <c>index_copy_</c>, which cost more a call (two calls a layer every step). A slot's
/// cache lines are cold (the sequence last wrote beside it a whole step ago), so plain stores first read
/// every line they write; non-temporal stores skip that read, and a batch's rows are split over two
/// threads: together they write a batch-64 step's rows into cold caches in about half the time of one
/// plain copy a row (figures in docs/performance-log.md).
/// </summary>
internal static unsafe class KvSlotWriter
{
    // Fewer rows than this stay on the calling thread: a batch-1 decode writes one row a call.
    const int ParallelRows = 16;

    /// <summary>
    /// Whether <paramref name="rows"/> [T, kv_heads, D] (each token's heads contiguous, as in a view of a
    /// fused projection) can be copied into <paramref name="cache"/> [slots, kv_heads, D] here.
    /// </summary>
    public static bool Supports(Tensor cache, Tensor rows) =>
        CpuFloatKernels.Accept(cache, rows) && cache.is_contiguous() && rows.dim() == 3 && cache.dim() == 3
        && rows.shape[1] == cache.shape[1] && rows.shape[2] == cache.shape[2]
        && rows.stride(2) == 1 && rows.stride(1) == rows.shape[2];

    /// <summary>Copies row t of <paramref name="rows"/> into slot <paramref name="slots"/>[t] of <paramref name="cache"/>.</summary>
    /// <exception cref="ArgumentException">The slot count does not match the rows, or a slot is outside the cache.</exception>
    public static void Write(Tensor cache, long[] slots, Tensor rows)
    {
        if (slots.Length != rows.shape[0]) throw new ArgumentException($"{slots.Length} slots for {rows.shape[0]} rows", nameof(slots));
        long rowFloats = cache.shape[1] * cache.shape[2], capacity = cache.shape[0], stride = rows.stride(0);
        foreach (long slot in slots)
            if ((ulong)slot >= (ulong)capacity) throw new ArgumentException($"slot {slot} is outside the cache's [0, {capacity})", nameof(slots));
        float* target = TensorData.Floats(cache), source = TensorData.Floats(rows);
        bool streamed = Avx.IsSupported && rowFloats % Vector256<float>.Count == 0 && ((nint)target & 31) == 0;
        if (slots.Length < ParallelRows) Copy(0, slots.Length);
        else CpuParallel.For(2, half => Copy(half * slots.Length / 2, (half + 1) * slots.Length / 2));

        void Copy(int first, int end)
        {
            for (int t = first; t < end; t++)
            {
                float* from = source + t * stride, to = target + slots[t] * rowFloats;
                if (!streamed)
                {
                    Buffer.MemoryCopy(from, to, rowFloats * sizeof(float), rowFloats * sizeof(float));
                    continue;
                }
                for (long i = 0; i < rowFloats; i += Vector256<float>.Count) Avx.StoreAlignedNonTemporal(to + i, Vector256.Load(from + i));
            }
            // Non-temporal stores are weakly ordered: the attention that reads the rows may run on another thread.
            if (streamed) Sse.StoreFence();
        }
    }
}
