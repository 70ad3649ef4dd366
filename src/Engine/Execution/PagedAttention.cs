using Rollout.Models;
using Rollout.Models.Attention;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Execution;

/// <summary>
/// Attention over the paged KV cache for one engine step. The batch packs sequences by how many new
/// tokens they have, fewest first. Each layer writes the step's K/V into their slots, then attends:
/// the leading short sequences together (on the CPU in fp32 by <see cref="PagedDecodeAttention"/>
/// reading the blocks in place, decodes and speculative verifies alike; elsewhere, the one-token
/// decodes only, by gathering their blocks into one padded batch), every other sequence on its own
/// with a causal mask offset by its cached prefix.
/// </summary>
internal sealed class PagedAttention : IAttentionContext
{
    readonly PagedKvTensors _kv;
    readonly long[] _slots;
    readonly Tensor _slotMapping;
    readonly int _decodes;
    readonly int _decodeRows;
    readonly PagedQueryBatch? _kernelBatch;
    readonly int _decodeMaxBlocks;
    readonly int[] _decodeLengths = [];
    readonly Tensor? _decodeBlocks;
    readonly Dictionary<int, Tensor> _decodeMasks = [];
    readonly bool _fastKernels;
    readonly (long Start, long Count, long StartPosition, Tensor Blocks)[] _prefills;

    // The verify rows of a speculative step at most: longer runs are prompts, whose own path is faster.
    const int KernelRows = 16;

    // Query rows per kernel call in the batch-invariant mode, where prompts take the kernel too: bounds its score buffer.
    const int InvariantRunRows = 64;

    /// <param name="kv">The cache tensors.</param>
    /// <param name="sequences">The step's sequences, ordered by how many new tokens they have, fewest first.</param>
    /// <param name="windows">The sliding windows the model's layers use (null for full attention).</param>
    /// <param name="device">Where index tensors go.</param>
    /// <param name="fastKernels">
    /// Whether short sequences may use <see cref="PagedDecodeAttention"/> and new KV rows <see cref="KvSlotWriter"/>
    /// where they support the cache (<see cref="CpuKernels.Fast"/>).
    /// </param>
    /// <param name="batchInvariant">
    /// Whether every sequence, prompts included, attends through <see cref="PagedDecodeAttention"/>, whose rows each
    /// compute the same whatever the batch (<see cref="CpuKernels.BatchInvariant"/>).
    /// </param>
    public PagedAttention(PagedKvTensors kv, IReadOnlyList<StepSequence> sequences, IEnumerable<int?> windows, Device device, bool fastKernels,
        bool batchInvariant = false)
    {
        _kv = kv;
        _fastKernels = fastKernels;
        int bs = kv.BlockSize;
        var slots = new List<long>();
        foreach (var s in sequences)
            for (int p = s.StartPosition; p < s.ContextLength; p++)
                slots.Add((long)s.BlockTable[p / bs] * bs + p % bs);
        _slots = slots.ToArray();
        _slotMapping = tensor(_slots, device: device);

        bool kernel = (fastKernels || batchInvariant) && PagedDecodeAttention.Supports(kv.Keys(0));
        int kernelRows = batchInvariant ? int.MaxValue : KernelRows;
        _decodes = sequences.TakeWhile(s => s.TokenIds.Count == 1 || kernel && s.TokenIds.Count <= kernelRows).Count();
        if (kernel && _decodes > 0)
        {
            _kernelBatch = new PagedQueryBatch(sequences.Take(_decodes).Select(s => (s.BlockTable, s.ContextLength, s.TokenIds.Count)).ToArray(), bs,
                batchInvariant ? InvariantRunRows : KernelRows);
            _decodeRows = _kernelBatch.Rows;
        }
        else if (_decodes > 0)
        {
            _decodeRows = _decodes;
            _decodeLengths = sequences.Take(_decodes).Select(s => s.ContextLength).ToArray();
            _decodeMaxBlocks = _decodeLengths.Max(l => (l + bs - 1) / bs);
            var tables = new long[_decodes * _decodeMaxBlocks];
            for (int i = 0; i < _decodes; i++)
            {
                int used = (_decodeLengths[i] + bs - 1) / bs;
                for (int b = 0; b < used; b++) tables[i * _decodeMaxBlocks + b] = sequences[i].BlockTable[b];
            }
            _decodeBlocks = tensor(tables, device: device);
            // Built here, in the step's dispose scope: a layer's own scope would free them before the next layer.
            foreach (int? window in windows.Distinct()) _decodeMasks[window ?? 0] = DecodeMask(window, device);
        }

        var prefills = new List<(long, long, long, Tensor)>();
        long offset = _decodeRows;
        int previous = 0;
        foreach (var s in sequences)
        {
            if (s.TokenIds.Count < previous || s.TokenIds.Count == 0)
                throw new ArgumentException("sequences must come ordered by their number of new tokens, and every sequence needs a token");
            previous = s.TokenIds.Count;
        }
        foreach (var s in sequences.Skip(_decodes))
        {
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
        Write(keys, key);
        Write(values, value);
        var outputs = new List<Tensor>(1 + _prefills.Length);
        if (_decodes > 0)
        {
            var queries = query.narrow(0, 0, _decodeRows);
            outputs.Add(_kernelBatch is not null
                ? _kernelBatch.Attend(queries, keys, values, options.SlidingWindow)
                : AttendGatheredDecodes(queries, keys, values, options.SlidingWindow));
        }
        foreach (var (start, count, startPosition, blocks) in _prefills)
            outputs.Add(AttendPrefill(query.narrow(0, start, count), keys, values, blocks, startPosition, count, options.SlidingWindow));
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }

    void Write(Tensor cache, Tensor rows)
    {
        if (_fastKernels && KvSlotWriter.Supports(cache, rows)) KvSlotWriter.Write(cache, _slots, rows);
        else cache.index_copy_(0, _slotMapping, rows);
    }

    // The decodes' KV gathered into [B, max_len, kv_heads, D]; every KV head's group of query heads
    // attends as a group of queries, so GQA needs no repeated keys.
    Tensor AttendGatheredDecodes(Tensor query, Tensor cacheKeys, Tensor cacheValues, int? window)
    {
        long maxLen = (long)_decodeMaxBlocks * _kv.BlockSize;
        var keys = Gather(cacheKeys, _decodeBlocks!, _decodes, maxLen);
        var values = Gather(cacheValues, _decodeBlocks!, _decodes, maxLen);
        long b = _decodes, kvHeads = keys.shape[2], d = keys.shape[3], heads = query.shape[1];
        var q = query.view(b, kvHeads, heads / kvHeads, d);
        var output = nn.functional.scaled_dot_product_attention(q, keys.permute(0, 2, 1, 3), values.permute(0, 2, 1, 3), attn_mask: _decodeMasks[window ?? 0]);
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
        long maxLen = (long)_decodeMaxBlocks * _kv.BlockSize;
        var positions = arange(maxLen, ScalarType.Int64, device).unsqueeze(0);
        var lengths = tensor(Array.ConvertAll(_decodeLengths, l => (long)l), device: device).unsqueeze(1);
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
