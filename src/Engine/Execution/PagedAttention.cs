using Rollout.Models.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Execution;

/// <summary>
/// Attention over the paged KV cache for one engine step. The batch packs decoding sequences (one
/// new token each) first, then prefilling ones. Each layer writes the step's K/V into their slots,
/// then attends: all decodes together (their blocks gathered into one padded batch), each prefill
/// on its own with a causal mask offset by its cached prefix.
/// </summary>
internal sealed class PagedAttention : IAttentionContext
{
    readonly PagedKvTensors _kv;
    readonly Tensor _slotMapping;
    readonly int _decodes;
    readonly Tensor? _decodeBlocks;
    readonly long[] _decodeLengths;
    readonly long _decodeMaxBlocks;
    readonly Dictionary<int, Tensor> _decodeMasks = [];
    readonly (long Start, long Count, long StartPosition, Tensor Blocks)[] _prefills;

    /// <param name="kv">The cache tensors.</param>
    /// <param name="sequences">The step's sequences: those with one new token first.</param>
    /// <param name="windows">The sliding windows the model's layers use (null for full attention).</param>
    /// <param name="device">Where index tensors go.</param>
    public PagedAttention(PagedKvTensors kv, IReadOnlyList<StepSequence> sequences, IEnumerable<int?> windows, Device device)
    {
        _kv = kv;
        int bs = kv.BlockSize;
        var slots = new List<long>();
        foreach (var s in sequences)
            for (int p = s.StartPosition; p < s.ContextLength; p++)
                slots.Add((long)s.BlockTable[p / bs] * bs + p % bs);
        _slotMapping = tensor(slots.ToArray(), device: device);

        _decodes = sequences.TakeWhile(s => s.TokenIds.Count == 1).Count();
        _decodeLengths = sequences.Take(_decodes).Select(s => (long)s.ContextLength).ToArray();
        if (_decodes > 0)
        {
            _decodeMaxBlocks = _decodeLengths.Max(l => (l + bs - 1) / bs);
            var blocks = new long[_decodes * _decodeMaxBlocks];
            for (int i = 0; i < _decodes; i++)
            {
                long used = (_decodeLengths[i] + bs - 1) / bs;
                for (int b = 0; b < used; b++) blocks[i * _decodeMaxBlocks + b] = sequences[i].BlockTable[b];
            }
            _decodeBlocks = tensor(blocks, device: device);
            // Built here, in the step's dispose scope: a layer's own scope would free them before the next layer.
            foreach (int? window in windows.Distinct()) _decodeMasks[window ?? 0] = DecodeMask(window, device);
        }

        var prefills = new List<(long, long, long, Tensor)>();
        long offset = _decodes;
        foreach (var s in sequences.Skip(_decodes))
        {
            if (s.TokenIds.Count == 1 && prefills.Count > 0 || s.TokenIds.Count == 0)
                throw new ArgumentException("sequences with one new token must come first, and every sequence needs a token");
            long used = (s.ContextLength + bs - 1) / bs;
            prefills.Add((offset, s.TokenIds.Count, s.StartPosition, tensor(s.BlockTable.Take((int)used).Select(b => (long)b).ToArray(), device: device)));
            offset += s.TokenIds.Count;
        }
        _prefills = prefills.ToArray();
    }

    public Tensor Attend(int layer, Tensor query, Tensor key, Tensor value, AttentionLayerOptions options)
    {
        var keys = _kv.Keys(layer);
        var values = _kv.Values(layer);
        keys.index_copy_(0, _slotMapping, key);
        values.index_copy_(0, _slotMapping, value);
        var outputs = new List<Tensor>(1 + _prefills.Length);
        if (_decodes > 0) outputs.Add(AttendDecodes(query.narrow(0, 0, _decodes), keys, values, options.SlidingWindow));
        foreach (var (start, count, startPosition, blocks) in _prefills)
            outputs.Add(AttendPrefill(query.narrow(0, start, count), keys, values, blocks, startPosition, count, options.SlidingWindow));
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }

    // Decodes: every sequence's blocks gathered into [B, kv_heads, max_len, D]; each KV head's group of
    // query heads attends as a group of queries, so GQA needs no repeated keys.
    Tensor AttendDecodes(Tensor query, Tensor keys, Tensor values, int? window)
    {
        long b = _decodes, bs = _kv.BlockSize, kvHeads = keys.shape[1], d = keys.shape[2];
        long heads = query.shape[1], maxLen = _decodeMaxBlocks * bs;
        var k = Gather(keys, _decodeBlocks!, b, maxLen).permute(0, 2, 1, 3);
        var v = Gather(values, _decodeBlocks!, b, maxLen).permute(0, 2, 1, 3);
        var q = query.view(b, kvHeads, heads / kvHeads, d);
        var output = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: _decodeMasks[window ?? 0]);
        return output.reshape(b, heads, d);
    }

    Tensor Gather(Tensor cache, Tensor blocks, long sequences, long length)
    {
        long bs = _kv.BlockSize;
        var byBlock = cache.view(-1, bs, cache.shape[1], cache.shape[2]);
        // Advanced indexing copies whole blocks; index_select takes a generic per-element path here that
        // measured 15x slower on these shapes.
        return byBlock[blocks].view(sequences, length, cache.shape[1], cache.shape[2]);
    }

    Tensor DecodeMask(int? window, Device device)
    {
        long maxLen = _decodeMaxBlocks * _kv.BlockSize;
        var positions = arange(maxLen, ScalarType.Int64, device).unsqueeze(0);
        var lengths = tensor(_decodeLengths, device: device).unsqueeze(1);
        var mask = positions < lengths;
        if (window is int w) mask = mask & (positions > lengths - 1 - w);
        return mask.view(_decodes, 1, 1, maxLen);
    }

    Tensor AttendPrefill(Tensor query, Tensor keys, Tensor values, Tensor blocks, long startPosition, long count, int? window)
    {
        long end = startPosition + count;
        long firstKey = window is int w ? Math.Max(0, startPosition - w + 1) : 0;
        long blocksLength = blocks.shape[0] * _kv.BlockSize;
        var k = Gather(keys, blocks, 1, blocksLength)[0].narrow(0, firstKey, end - firstKey).transpose(0, 1);
        var v = Gather(values, blocks, 1, blocksLength)[0].narrow(0, firstKey, end - firstKey).transpose(0, 1);
        var mask = CausalMask.Build(count, startPosition, end - firstKey, firstKey, window, query.device);
        return CausalMask.Attend(query.transpose(0, 1), k, v, mask);
    }
}
