using System.Runtime.Intrinsics;
using Rollout.Models.Kernels;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>
/// The greedy choice of every row of fp32 CPU logits, as <c>argmax(-1)</c> chooses it (the first of tied
/// maxima; the first NaN if a row has one), in one vectorised pass: libtorch's reduction took ~2 ms a step
/// over 64 x 32000 logits here, several times the time to read them.
/// </summary>
internal static unsafe class GreedyArgMax
{
    // A row of a large vocabulary is worth a thread of its own only in large batches.
    const long Grain = 1 << 20;

    /// <summary>Whether <paramref name="logits"/> [rows, vocab] can be read here.</summary>
    public static bool Supports(Tensor logits) =>
        CpuFloatKernels.Accept(logits) && logits.dim() == 2 && logits.is_contiguous() && logits.shape[1] <= int.MaxValue;

    /// <summary>The chosen token id of each row.</summary>
    public static long[] Rows(Tensor logits)
    {
        int vocab = (int)logits.shape[1];
        var chosen = new long[logits.shape[0]];
        float* data = TensorData.Floats(logits);
        CpuParallel.ForRows(chosen.Length, vocab, Grain, (first, end) =>
        {
            for (long r = first; r < end; r++) chosen[r] = Row(data + r * vocab, vocab);
        });
        return chosen;
    }

    static int Row(float* x, int n)
    {
        const int lanes = 8;
        if (n < lanes) return Scalar(x, 0, n, -1, float.NegativeInfinity);
        // Per lane, the largest value and where it was first seen: a strict comparison keeps the earliest.
        var best = Vector256.Load(x);
        var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var bestIndex = index;
        var notANumber = ~Vector256.Equals(best, best);
        int i = lanes;
        for (; i + lanes <= n; i += lanes)
        {
            var v = Vector256.Load(x + i);
            index += Vector256.Create(lanes);
            var greater = Vector256.GreaterThan(v, best);
            best = Vector256.ConditionalSelect(greater, v, best);
            bestIndex = Vector256.ConditionalSelect(greater.AsInt32(), index, bestIndex);
            notANumber |= ~Vector256.Equals(v, v);
        }
        if (notANumber != Vector256<float>.Zero) return FirstNaN(x, n);
        float max = best.GetElement(0);
        int at = bestIndex.GetElement(0);
        for (int lane = 1; lane < lanes; lane++)
        {
            float value = best.GetElement(lane);
            int where = bestIndex.GetElement(lane);
            if (value > max || value == max && where < at) (max, at) = (value, where);
        }
        return Scalar(x, i, n, at, max);
    }

    // Continues a scan over [from, n) from the best so far (none when at is -1); a NaN wins, as in torch.
    static int Scalar(float* x, int from, int n, int at, float max)
    {
        for (int i = from; i < n; i++)
        {
            if (float.IsNaN(x[i])) return FirstNaN(x, n);
            if (at < 0 || x[i] > max) (max, at) = (x[i], i);
        }
        return at;
    }

    static int FirstNaN(float* x, int n)
    {
        for (int i = 0; i < n; i++) if (float.IsNaN(x[i])) return i;
        throw new InvalidOperationException("unreachable: a NaN was seen");
    }
}
