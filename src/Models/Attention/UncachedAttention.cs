using Rollout.Models.BatchInvariant;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Attention;

/// <summary>
/// Attention with no cache: the batch holds whole sequences packed end to end, each starting at
/// position 0. Training and full recomputation use it.
/// </summary>
public sealed class UncachedAttention : IAttentionContext
{
    readonly long[] _lengths;
    readonly int[] _intLengths;
    // The batch-invariant kernel's view of the sequences, made by the first layer that needs it.
    PagedQueryBatch? _invariantBatch;

    /// <summary>A context for sequences of the given lengths, packed in this order.</summary>
    public UncachedAttention(IReadOnlyList<int> sequenceLengths)
    {
        if (sequenceLengths.Count == 0 || sequenceLengths.Any(l => l <= 0))
            throw new ArgumentException("every sequence needs at least one token", nameof(sequenceLengths));
        _lengths = sequenceLengths.Select(l => (long)l).ToArray();
        _intLengths = [.. sequenceLengths];
    }

    /// <inheritdoc />
    /// <remarks>Consecutive sequences of one length attend as one batch (a trainer that sorts its sequences by length gets few, large products).</remarks>
    public Tensor Attend(int layer, Tensor query, Tensor key, Tensor value, AttentionLayerOptions options)
    {
        if (query.shape[0] != _lengths.Sum())
            throw new ArgumentException($"the batch has {query.shape[0]} tokens but the context describes {_lengths.Sum()}");
        if (options.BatchInvariant && InvariantAttention.Fits(key))
            return InvariantAttention.Apply(query, key, value, _invariantBatch ??= InvariantAttention.Batch(_intLengths), _intLengths, options.SlidingWindow);
        var outputs = new List<Tensor>();
        long start = 0;
        for (int i = 0; i < _lengths.Length;)
        {
            long length = _lengths[i];
            int run = 1;
            while (i + run < _lengths.Length && _lengths[i + run] == length) run++;
            Tensor Batch(Tensor x) => x.narrow(0, start, run * length).view(run, length, x.shape[1], x.shape[2]).transpose(1, 2);
            var mask = CausalMask.Build(length, 0, length, 0, options.SlidingWindow, query.device);
            outputs.Add(CausalMask.AttendBatch(Batch(query), Batch(key), Batch(value), mask));
            start += run * length;
            i += run;
        }
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }
}
