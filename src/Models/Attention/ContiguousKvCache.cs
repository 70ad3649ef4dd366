using Rollout.Models.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Attention;

/// <summary>
/// One sequence's keys and values in one preallocated buffer per layer ([kv_heads, capacity, head_dim]),
/// token i at slot i. The simple cache of the reference generator; the engine uses a paged one.
/// </summary>
public sealed class ContiguousKvCache : IDisposable
{
    readonly Tensor[] _keys;
    readonly Tensor[] _values;

    /// <summary>Allocates room for <paramref name="capacity"/> tokens of a model of <paramref name="config"/>.</summary>
    public ContiguousKvCache(ModelConfig config, int capacity, ScalarType dtype, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            _keys[i] = zeros([config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
            _values[i] = zeros([config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
        }
    }

    /// <summary>Tokens the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Tokens stored (or reserved by a forward pass in progress).</summary>
    public int Length { get; private set; }

    internal int Reserve(int tokens)
    {
        if (Length + tokens > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {tokens} tokens exceed its capacity of {Capacity}");
        int start = Length;
        Length += tokens;
        return start;
    }

    internal Tensor Keys(int layer) => _keys[layer];
    internal Tensor Values(int layer) => _values[layer];

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t.Dispose();
    }
}
