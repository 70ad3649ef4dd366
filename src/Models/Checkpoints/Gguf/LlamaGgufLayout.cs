using System.Globalization;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>
/// How llama.cpp's "llama" architecture names and lays out the tensors of a Hugging Face Llama model:
/// the name mapping, and the per-head row order of q and k that llama.cpp's RoPE expects.
/// </summary>
internal static class LlamaGgufLayout
{
    static readonly Dictionary<string, string> TopLevel = new()
    {
        ["token_embd"] = "model.embed_tokens",
        ["output_norm"] = "model.norm",
        ["output"] = "lm_head",
    };

    static readonly Dictionary<string, string> PerLayer = new()
    {
        ["attn_q"] = "self_attn.q_proj",
        ["attn_k"] = "self_attn.k_proj",
        ["attn_v"] = "self_attn.v_proj",
        ["attn_output"] = "self_attn.o_proj",
        ["attn_norm"] = "input_layernorm",
        ["ffn_norm"] = "post_attention_layernorm",
        ["ffn_gate"] = "mlp.gate_proj",
        ["ffn_up"] = "mlp.up_proj",
        ["ffn_down"] = "mlp.down_proj",
    };

    static readonly Dictionary<string, string> TopLevelToGguf = TopLevel.ToDictionary(p => p.Value, p => p.Key);
    static readonly Dictionary<string, string> PerLayerToGguf = PerLayer.ToDictionary(p => p.Value, p => p.Key);

    const string LayerPrefix = "model.layers.";

    /// <summary>The HF name of GGUF tensor <paramref name="ggufName"/>, or null if the llama layout has none.</summary>
    internal static string? ToHf(string ggufName)
    {
        if (!SplitSuffix(ggufName, out string stem, out string suffix)) return null;
        if (TopLevel.TryGetValue(stem, out string? top)) return $"{top}.{suffix}";
        string[] parts = stem.Split('.');
        return parts is ["blk", var layer, var part] && IsLayerIndex(layer) && PerLayer.TryGetValue(part, out string? hf)
            ? $"{LayerPrefix}{layer}.{hf}.{suffix}"
            : null;
    }

    /// <summary>The GGUF name of HF tensor <paramref name="hfName"/>, or null if the llama layout has none.</summary>
    internal static string? ToGguf(string hfName)
    {
        if (!SplitSuffix(hfName, out string stem, out string suffix)) return null;
        if (TopLevelToGguf.TryGetValue(stem, out string? top)) return $"{top}.{suffix}";
        if (!stem.StartsWith(LayerPrefix, StringComparison.Ordinal)) return null;
        string rest = stem[LayerPrefix.Length..];
        int dot = rest.IndexOf('.');
        return dot > 0 && IsLayerIndex(rest[..dot]) && PerLayerToGguf.TryGetValue(rest[(dot + 1)..], out string? part)
            ? $"blk.{rest[..dot]}.{part}.{suffix}"
            : null;
    }

    /// <summary>
    /// The number of heads whose rows llama.cpp reorders in GGUF tensor <paramref name="ggufName"/>
    /// (query heads for attn_q, key/value heads for attn_k, weight and bias alike), or null.
    /// </summary>
    internal static int? RopeHeads(string ggufName, int heads, int kvHeads) =>
        ggufName.EndsWith(".attn_q.weight", StringComparison.Ordinal) || ggufName.EndsWith(".attn_q.bias", StringComparison.Ordinal) ? heads
        : ggufName.EndsWith(".attn_k.weight", StringComparison.Ordinal) || ggufName.EndsWith(".attn_k.bias", StringComparison.Ordinal) ? kvHeads
        : null;

    /// <summary>
    /// HF rotates the halves (i, i + d/2) of each head, llama.cpp the pairs (2i, 2i + 1); llama.cpp's
    /// converter reorders each head's rows so its RoPE gives HF's result. This is that reordering,
    /// <c>w.reshape(heads, 2, d/2, ...).swapaxes(1, 2)</c>, as in convert_hf_to_gguf.py's <c>permute</c>.
    /// </summary>
    internal static torch.Tensor ToInterleaved(torch.Tensor hf, int heads) => Reorder(hf, heads, 2, -1);

    /// <summary>The inverse of <see cref="ToInterleaved"/>: GGUF rows back into HF's rotate-half order.</summary>
    internal static torch.Tensor ToRotateHalf(torch.Tensor gguf, int heads) => Reorder(gguf, heads, -1, 2);

    static torch.Tensor Reorder(torch.Tensor w, int heads, long first, long second)
    {
        long[] shape = w.shape;
        long[] split = [heads, first, second, .. shape[1..]];
        using var grouped = w.reshape(split);
        using var swapped = grouped.swapaxes(1, 2);
        return swapped.reshape(shape);
    }

    static bool SplitSuffix(string name, out string stem, out string suffix)
    {
        int dot = name.LastIndexOf('.');
        stem = dot > 0 ? name[..dot] : "";
        suffix = dot > 0 ? name[(dot + 1)..] : "";
        return suffix is "weight" or "bias";
    }

    // Canonical decimal only, so that one HF name maps to exactly one GGUF name and back.
    static bool IsLayerIndex(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n.ToString(CultureInfo.InvariantCulture) == text;
}
