using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Attention;

/// <summary>
/// A forward pass over sequences that each keep a <see cref="ContiguousKvCache"/>: the batch packs each
/// sequence's new tokens (which continue its cached ones) end to end. Creating the context reserves
/// the new tokens' slots; each layer writes its K/V there and attends over the whole cached prefix.
/// </summary>
public sealed class ContiguousCacheAttention : IAttentionContext
{
    readonly (ContiguousKvCache Cache, long Start, long Count)[] _sequences;

    /// <summary>Reserves <c>NewTokens</c> slots in each sequence's cache, in batch order.</summary>
    public ContiguousCacheAttention(IReadOnlyList<(ContiguousKvCache Cache, int NewTokens)> sequences)
    {
        if (sequences.Count == 0 || sequences.Any(s => s.NewTokens <= 0))
            throw new ArgumentException("every sequence needs at least one new token", nameof(sequences));
        _sequences = sequences.Select(s => (s.Cache, (long)s.Cache.Reserve(s.NewTokens), (long)s.NewTokens)).ToArray();
    }

    /// <inheritdoc />
    public Tensor Attend(int layer, Tensor query, Tensor key, Tensor value, AttentionLayerOptions options)
    {
        var outputs = new List<Tensor>(_sequences.Length);
        long offset = 0;
        foreach (var (cache, start, count) in _sequences)
        {
            var keys = cache.Keys(layer);
            var values = cache.Values(layer);
            keys.narrow(1, start, count).copy_(key.narrow(0, offset, count).transpose(0, 1));
            values.narrow(1, start, count).copy_(value.narrow(0, offset, count).transpose(0, 1));
            long end = start + count;
            long firstKey = options.SlidingWindow is int w ? Math.Max(0, start - w + 1) : 0;
            var mask = CausalMask.Build(count, start, end - firstKey, firstKey, options.SlidingWindow, query.device);
            var q = query.narrow(0, offset, count).transpose(0, 1);
            outputs.Add(CausalMask.Attend(q, keys.narrow(1, firstKey, end - firstKey), values.narrow(1, firstKey, end - firstKey), mask));
            offset += count;
        }
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }
}
