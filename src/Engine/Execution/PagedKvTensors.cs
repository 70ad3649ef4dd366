using Rollout.Models.Configuration;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Execution;

/// <summary>
/// The KV cache's memory: per layer, one preallocated key tensor and one value tensor of
/// [blocks * block_size, kv_heads, head_dim]. Slot s holds the token at offset s % block_size of
/// block s / block_size; which blocks a sequence owns is the block pool's business.
/// </summary>
internal sealed class PagedKvTensors : IDisposable
{
    readonly Tensor[] _keys;
    readonly Tensor[] _values;

    public PagedKvTensors(ModelConfig config, int numBlocks, int blockSize, ScalarType dtype, Device device)
    {
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        long slots = (long)numBlocks * blockSize;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            _keys[i] = Zeros([slots, config.NumKeyValueHeads, config.HeadDim], dtype, device);
            _values[i] = Zeros([slots, config.NumKeyValueHeads, config.HeadDim], dtype, device);
        }
    }

    // On the CPU the cache asks for huge pages before its first touch: a decode step reads every running
    // sequence's keys and values, and with 4 KB pages it walked the page tables for each page of them.
    static Tensor Zeros(long[] shape, ScalarType dtype, Device device)
    {
        if (device.type != DeviceType.CPU || !OperatingSystem.IsLinux()) return zeros(shape, dtype, device);
        var cache = empty(shape, dtype, device);
        Libc.AdviseHugePages(TensorData.Address(cache), (nint)(cache.numel() * cache.element_size()));
        return cache.zero_();
    }

    public int NumBlocks { get; }
    public int BlockSize { get; }

    /// <summary>Bytes one block takes across all layers, keys and values.</summary>
    public static long BytesPerBlock(ModelConfig config, int blockSize, ScalarType dtype) =>
        2L * config.NumHiddenLayers * blockSize * config.NumKeyValueHeads * config.HeadDim * ElementSize(dtype);

    static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => throw new ArgumentException($"KV cache dtype {dtype} is not supported"),
    };

    /// <summary>Copies one block's keys and values, in every layer, onto another block.</summary>
    public void CopyBlock(int source, int destination)
    {
        foreach (var cache in _keys.Concat(_values))
        {
            using var byBlock = cache.view(NumBlocks, BlockSize, cache.shape[1], cache.shape[2]);
            using var from = byBlock[source];
            using var to = byBlock[destination];
            to.copy_(from);
        }
    }

    public Tensor Keys(int layer) => _keys[layer];
    public Tensor Values(int layer) => _values[layer];

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t.Dispose();
    }
}
