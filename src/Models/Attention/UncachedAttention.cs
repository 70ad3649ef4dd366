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

    /// <summary>A context for sequences of the given lengths, packed in this order.</summary>
    public UncachedAttention(IReadOnlyList<int> sequenceLengths)
    {
        if (sequenceLengths.Count == 0 || sequenceLengths.Any(l => l <= 0))
            throw new ArgumentException("every sequence needs at least one token", nameof(sequenceLengths));
        _lengths = sequenceLengths.Select(l => (long)l).ToArray();
    }

    /// <inheritdoc />
    public Tensor Attend(int layer, Tensor query, Tensor key, Tensor value, AttentionLayerOptions options)
    {
        if (query.shape[0] != _lengths.Sum())
            throw new ArgumentException($"the batch has {query.shape[0]} tokens but the context describes {_lengths.Sum()}");
        var outputs = new List<Tensor>(_lengths.Length);
        long start = 0;
        foreach (long length in _lengths)
        {
            var q = query.narrow(0, start, length).transpose(0, 1);
            var k = key.narrow(0, start, length).transpose(0, 1);
            var v = value.narrow(0, start, length).transpose(0, 1);
            var mask = CausalMask.Build(length, 0, length, 0, options.SlidingWindow, query.device);
            outputs.Add(CausalMask.Attend(q, k, v, mask));
            start += length;
        }
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }
}
