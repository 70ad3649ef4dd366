using Rollout.Models.Attention;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.BatchInvariant;

/// <summary>
/// Causal attention of whole sequences packed end to end (a training forward) through <see cref="PagedDecodeAttention"/>,
/// the kernel the engine attends with in the batch-invariant mode: each query row's scores, softmax and weighted
/// sum in one fixed order, so a token's attention is the same bits here as in the engine's decode, verify or prefill.
/// The keys of a sequence are read as blocks of one position. Recorded for autograd when a gradient is wanted, with
/// a backward that recomputes the probabilities with libtorch.
/// </summary>
internal sealed class InvariantAttention : autograd.SingleTensorFunction<InvariantAttention>
{
    // Query rows per kernel call: bounds its score buffer; a row's result does not depend on the rows beside it.
    const int RunRows = 64;

    public override string Name => nameof(InvariantAttention);

    /// <summary>Whether <see cref="Apply"/> can take keys like <paramref name="key"/>.</summary>
    public static bool Fits(Tensor key) => CpuFloatKernels.Fit(key) && PagedDecodeAttention.Supports(key);

    /// <summary>The kernel's view of sequences of <paramref name="lengths"/> packed in order, each from position 0: one per forward, shared by its layers.</summary>
    public static PagedQueryBatch Batch(int[] lengths)
    {
        var sequences = new (IReadOnlyList<int>, int, int)[lengths.Length];
        int start = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            sequences[s] = (Enumerable.Range(start, lengths[s]).ToArray(), lengths[s], lengths[s]);
            start += lengths[s];
        }
        return new PagedQueryBatch(sequences, blockSize: 1, RunRows);
    }

    /// <summary>
    /// Attention of <paramref name="query"/> [T, heads, D] over <paramref name="key"/> and <paramref name="value"/>
    /// [T, kv_heads, D] for sequences of <paramref name="lengths"/> packed in order, each from position 0, whose
    /// <see cref="Batch"/> is <paramref name="batch"/>.
    /// </summary>
    public static Tensor Apply(Tensor query, Tensor key, Tensor value, PagedQueryBatch batch, int[] lengths, int? window) =>
        AutogradRecording.Wanted(query, key, value)
            ? apply(query, key, value, batch, lengths, window ?? 0)
            : Forward(query, key, value, batch, window);

    static Tensor Forward(Tensor query, Tensor key, Tensor value, PagedQueryBatch batch, int? window)
    {
        using var scope = NewDisposeScope();
        return batch.Attend(query, key.contiguous(), value.contiguous(), window).MoveToOuterDisposeScope();
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (query, key, value, batch, lengths, window) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (PagedQueryBatch)vars[3], (int[])vars[4], (int)vars[5]);
        ctx.save_for_backward([query, key, value]);
        ctx.save_data("lengths", lengths);
        ctx.save_data("window", window);
        return Forward(query, key, value, batch, window > 0 ? window : null);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (query, key, value) = (saved[0], saved[1], saved[2]);
        var lengths = (int[])ctx.get_data("lengths");
        int window = (int)ctx.get_data("window");
        long group = query.shape[1] / key.shape[1], kvHeads = key.shape[1], d = query.shape[2];
        double scale = 1.0 / Math.Sqrt(d);
        var gradQuery = new List<Tensor>();
        var gradKey = new List<Tensor>();
        var gradValue = new List<Tensor>();
        long start = 0;
        foreach (int length in lengths)
        {
            var q = query.narrow(0, start, length).transpose(0, 1);
            var k = key.narrow(0, start, length).transpose(0, 1).repeat_interleave(group, dim: 0);
            var v = value.narrow(0, start, length).transpose(0, 1).repeat_interleave(group, dim: 0);
            var g = gradOutput.narrow(0, start, length).transpose(0, 1);
            var scores = q.matmul(k.transpose(1, 2)) * scale;
            if (CausalMask.Build(length, 0, length, 0, window > 0 ? window : null, query.device) is { } mask)
                scores = scores.masked_fill(mask.logical_not(), float.NegativeInfinity);
            var p = scores.softmax(-1);
            var gradP = g.matmul(v.transpose(1, 2));
            var gradScores = p * (gradP - (gradP * p).sum(-1, keepdim: true));
            gradQuery.Add((gradScores.matmul(k) * scale).transpose(0, 1));
            gradKey.Add(Grouped(gradScores.transpose(1, 2).matmul(q) * scale, kvHeads, group, length, d));
            gradValue.Add(Grouped(p.transpose(1, 2).matmul(g), kvHeads, group, length, d));
            start += length;
        }
        return [cat(gradQuery, 0), cat(gradKey, 0), cat(gradValue, 0), null!, null!, null!];
    }

    // [heads, L, D] gradients of the repeated keys or values, summed back onto their KV heads: [L, kv_heads, D].
    static Tensor Grouped(Tensor perHead, long kvHeads, long group, long length, long d) =>
        perHead.view(kvHeads, group, length, d).sum(1).transpose(0, 1);
}
