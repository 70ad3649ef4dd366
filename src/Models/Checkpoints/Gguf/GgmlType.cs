using TorchSharp;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>ggml's tensor element types, numbered as in ggml.h (gaps are retired types).</summary>
internal enum GgmlType : uint
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
}

/// <summary>Which ggml types map to a torch dtype one element at a time; the rest are block-quantized.</summary>
internal static class GgmlTypes
{
    static readonly Dictionary<GgmlType, torch.ScalarType> Plain = new()
    {
        [GgmlType.F32] = torch.ScalarType.Float32,
        [GgmlType.F16] = torch.ScalarType.Float16,
        [GgmlType.BF16] = torch.ScalarType.BFloat16,
        [GgmlType.F64] = torch.ScalarType.Float64,
        [GgmlType.I8] = torch.ScalarType.Int8,
        [GgmlType.I16] = torch.ScalarType.Int16,
        [GgmlType.I32] = torch.ScalarType.Int32,
        [GgmlType.I64] = torch.ScalarType.Int64,
    };

    internal static bool IsKnown(uint id) => Enum.IsDefined((GgmlType)id);

    /// <summary>The torch dtype of a plain type, or null for a quantized one.</summary>
    internal static torch.ScalarType? TorchType(GgmlType type) => Plain.TryGetValue(type, out var t) ? t : null;

    internal static GgmlType FromTorch(torch.ScalarType dtype, string tensorName)
    {
        foreach (var (ggml, torchType) in Plain)
            if (torchType == dtype) return ggml;
        throw new ArgumentException($"tensor '{tensorName}' has dtype {dtype}, which GGUF cannot store unquantized");
    }

    internal static int ElementSize(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float64 or torch.ScalarType.Int64 => 8,
        torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
        torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
        _ => 1,
    };

    internal static CheckpointFormatException Quantized(string tensorName, GgmlType type) =>
        new($"quantized GGUF tensors are not supported yet: {tensorName} is {type}");
}
