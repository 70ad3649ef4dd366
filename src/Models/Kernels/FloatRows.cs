using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Kernels;

/// <summary>
/// The rows (last dimension) of an fp32 CPU tensor of rank 2 or 3 whose last dimension is contiguous,
/// whatever the strides in front: the narrowed and reshaped views of a fused projection's output
/// (q, k, v out of qkv) are read in place, without a copy.
/// </summary>
internal readonly unsafe struct FloatRows
{
    readonly float* _data;
    readonly long _inner;
    readonly long _outerStride;
    readonly long _innerStride;

    public FloatRows(Tensor t)
    {
        if (!Fits(t)) throw new ArgumentException($"expected a rank 2 or 3 tensor with a contiguous last dimension, got shape [{string.Join(", ", t.shape)}] strides [{string.Join(", ", t.stride())}]");
        _data = TensorData.Floats(t);
        Length = t.shape[^1];
        _inner = t.dim() == 3 ? t.shape[1] : 1;
        _outerStride = t.stride(0);
        _innerStride = t.dim() == 3 ? t.stride(1) : 0;
        Count = t.shape[0] * _inner;
    }

    /// <summary>Whether <paramref name="t"/> has a shape and layout these rows can walk.</summary>
    public static bool Fits(Tensor t) => t.dim() is 2 or 3 && t.stride(-1) == 1;

    /// <summary>How many rows.</summary>
    public long Count { get; }

    /// <summary>Elements in a row.</summary>
    public long Length { get; }

    /// <summary>The first element of row <paramref name="row"/>, counted over the leading dimensions in order.</summary>
    public float* this[long row] => _data + row / _inner * _outerStride + row % _inner * _innerStride;
}
