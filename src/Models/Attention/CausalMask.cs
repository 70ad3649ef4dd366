using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Attention;

/// <summary>Causal (and sliding-window) masks and the attention product every context shares.</summary>
internal static class CausalMask
{
    /// <summary>
    /// Boolean mask [queries, keys] where query i sits at absolute position <paramref name="firstQueryPosition"/> + i
    /// and key j at <paramref name="firstKeyPosition"/> + j: true where the query may attend the key.
    /// Null when every query sees every key (a single query over its whole causal prefix).
    /// </summary>
    public static Tensor? Build(long queries, long firstQueryPosition, long keys, long firstKeyPosition, int? window, Device device)
    {
        long lastKey = firstKeyPosition + keys - 1;
        bool allVisible = queries == 1 && firstQueryPosition >= lastKey
            && (window is null || firstQueryPosition - firstKeyPosition < window);
        if (allVisible) return null;
        var q = arange(firstQueryPosition, firstQueryPosition + queries, ScalarType.Int64, device).unsqueeze(1);
        var k = arange(firstKeyPosition, firstKeyPosition + keys, ScalarType.Int64, device).unsqueeze(0);
        var mask = k <= q;
        if (window is int w) mask = mask & (q - k < w);
        return mask;
    }

    /// <summary>
    /// Softmax attention of queries [heads, Q, D] over keys/values [kv_heads, K, D] with HF's GQA layout
    /// (each KV head serves a run of consecutive query heads). Returns [Q, heads, D].
    /// </summary>
    public static Tensor Attend(Tensor query, Tensor key, Tensor value, Tensor? mask) =>
        AttendBatch(query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0), mask);

    /// <summary>
    /// As <see cref="Attend"/> for a batch of sequences of one length under one mask: queries
    /// [B, heads, Q, D], keys/values [B, kv_heads, K, D]. Returns [B * Q, heads, D], sequence after sequence.
    /// </summary>
    public static Tensor AttendBatch(Tensor query, Tensor key, Tensor value, Tensor? mask)
    {
        long groups = query.shape[1] / key.shape[1];
        if (groups > 1)
        {
            key = key.repeat_interleave(groups, dim: 1);
            value = value.repeat_interleave(groups, dim: 1);
        }
        // Batched 4-D operands let libtorch take its fused (flash) CPU kernel; 3-D ones fall to the math path,
        // which materialises and exponentiates the whole [heads, Q, K] score tensor.
        var output = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask: mask);
        return output.shape[0] == 1 ? output[0].transpose(0, 1) : output.transpose(1, 2).reshape(-1, output.shape[1], output.shape[3]);
    }
}
