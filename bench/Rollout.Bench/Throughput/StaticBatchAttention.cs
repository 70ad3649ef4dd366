using Rollout.Models.Attention;
using Rollout.Models.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Bench.Throughput;

/// <summary>
/// The static-batching baseline's attention (what HF <c>generate</c> does): B sequences of equal
/// length in one padded KV cache [B, kv_heads, capacity, head_dim] per layer, every step feeding the
/// same number of tokens to all of them, one batched attention per layer, no prefix sharing.
/// </summary>
internal sealed class StaticBatchAttention : IAttentionContext, IDisposable
{
    readonly Tensor[] _keys;
    readonly Tensor[] _values;
    readonly int _batch;
    long _length;
    long _stepStart;
    long _stepTokens;

    public StaticBatchAttention(ModelConfig config, int batch, int capacity, ScalarType dtype, Device device)
    {
        _batch = batch;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
            _values[i] = zeros([batch, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
        }
    }

    /// <summary>Declares the next forward pass: <paramref name="tokensPerSequence"/> new tokens for every sequence, packed sequence by sequence.</summary>
    public void BeginStep(int tokensPerSequence)
    {
        _stepStart = _length;
        _stepTokens = tokensPerSequence;
        _length += tokensPerSequence;
    }

    public Tensor Attend(int layer, Tensor query, Tensor key, Tensor value, AttentionLayerOptions options)
    {
        long heads = query.shape[1], kvHeads = key.shape[1], d = key.shape[2];
        var k = key.view(_batch, _stepTokens, kvHeads, d).transpose(1, 2);
        var v = value.view(_batch, _stepTokens, kvHeads, d).transpose(1, 2);
        _keys[layer].narrow(2, _stepStart, _stepTokens).copy_(k);
        _values[layer].narrow(2, _stepStart, _stepTokens).copy_(v);
        var keys = _keys[layer].narrow(2, 0, _length);
        var values = _values[layer].narrow(2, 0, _length);
        var q = query.view(_batch, _stepTokens, heads, d).transpose(1, 2);
        long groups = heads / kvHeads;
        if (groups > 1)
        {
            keys = keys.repeat_interleave(groups, dim: 1);
            values = values.repeat_interleave(groups, dim: 1);
        }
        var mask = _stepTokens == 1 ? null
            : arange(_stepStart, _length, ScalarType.Int64, query.device).unsqueeze(1) >= arange(0, _length, ScalarType.Int64, query.device).unsqueeze(0);
        var output = nn.functional.scaled_dot_product_attention(q, keys, values, attn_mask: mask);
        return output.transpose(1, 2).reshape(_batch * _stepTokens, heads, d);
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t.Dispose();
    }
}
