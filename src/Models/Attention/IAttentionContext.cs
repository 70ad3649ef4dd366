using TorchSharp;

namespace Rollout.Models.Attention;

/// <summary>
/// Where a forward pass's attention reads and writes keys and values. The model hands each layer's
/// projected queries, keys and values of the batch's tokens to the context, which stores the new K/V
/// where its cache keeps them and attends each sequence's queries over that sequence's keys. Training
/// uses a context with no cache; the reference generator a contiguous cache; the engine a paged one.
/// </summary>
public interface IAttentionContext
{
    /// <summary>
    /// Attention for one layer. <paramref name="query"/> is [T, heads, head_dim] and
    /// <paramref name="key"/>/<paramref name="value"/> are [T, kv_heads, head_dim] for the T packed tokens
    /// of this forward pass, RoPE already applied. Returns [T, heads, head_dim].
    /// </summary>
    torch.Tensor Attend(int layer, torch.Tensor query, torch.Tensor key, torch.Tensor value, AttentionLayerOptions options);
}

/// <summary>Per-layer attention settings.</summary>
/// <param name="SlidingWindow">Keys a query may see, itself included; null for the whole causal prefix.</param>
/// <param name="BatchInvariant">Whether every query row attends in one fixed order, the same in any batch (<see cref="CpuKernels.BatchInvariant"/>).</param>
public readonly record struct AttentionLayerOptions(int? SlidingWindow, bool BatchInvariant = false);
