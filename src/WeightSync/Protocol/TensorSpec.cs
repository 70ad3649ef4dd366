namespace Rollout.WeightSync;

/// <summary>
/// One tensor of an update as the manifest announces it: its name (HF layout, or the engine's fused
/// <c>qkv_proj</c>/<c>gate_up_proj</c>), dtype (<c>F32</c>, <c>F16</c> or <c>BF16</c>), shape, byte length
/// (little-endian, row-major) and the XxHash3 of those bytes.
/// </summary>
public sealed record TensorSpec(string Name, string DType, long[] Shape, long ByteLength, ulong Checksum);
