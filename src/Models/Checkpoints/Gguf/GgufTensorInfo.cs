namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>One entry of a GGUF file's tensor directory, under its name in the file.</summary>
public sealed class GgufTensorInfo
{
    internal GgufTensorInfo(string name, GgmlType type, long[] dimensions, ulong offset, long? byteSize)
    {
        Name = name;
        Type = type;
        Dimensions = dimensions;
        Offset = offset;
        ByteSize = byteSize;
    }

    /// <summary>The tensor's name in the file, e.g. <c>blk.0.attn_q.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The ggml element type as llama.cpp names it: <c>F32</c>, <c>F16</c>, <c>Q4_K</c>, ...</summary>
    public string TypeName => Type.ToString();

    /// <summary>
    /// ggml's <c>ne</c>: dimensions fastest-varying first, so a weight of <c>ne = [in, out]</c> is the
    /// row-major <c>[out, in]</c> matrix of <see cref="Shape"/>.
    /// </summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>The row-major (torch, Hugging Face) shape: <see cref="Dimensions"/> reversed.</summary>
    public long[] Shape => Dimensions.Reverse().ToArray();

    internal GgmlType Type { get; }

    /// <summary>Offset from the start of the data section.</summary>
    internal ulong Offset { get; }

    /// <summary>Size of the stored data; null for quantized types, which are never read.</summary>
    internal long? ByteSize { get; }
}
