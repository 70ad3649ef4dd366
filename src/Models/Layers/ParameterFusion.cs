using Rollout.Models.Configuration;
using TorchSharp;

namespace Rollout.Models.Layers;

/// <summary>
/// The engine computes q/k/v and gate/up each in one matmul, so their weights live fused in one
/// parameter; checkpoints (and trainers, and weight updates) name them separately. This maps every
/// fused parameter to the HF names of its row ranges, so loading and updating stay lookups by name.
/// </summary>
internal static class ParameterFusion
{
    /// <summary>The HF-named tensors a module parameter holds: itself, or views of its row ranges.</summary>
    public static IEnumerable<KeyValuePair<string, torch.Tensor>> Split(string name, torch.Tensor parameter, ModelConfig config)
    {
        var parts = Parts(name, config);
        if (parts is null)
        {
            yield return KeyValuePair.Create(name, parameter);
            yield break;
        }
        long offset = 0;
        foreach (var (partName, rows) in parts)
        {
            yield return KeyValuePair.Create(partName, parameter.narrow(0, offset, rows));
            offset += rows;
        }
    }

    static (string Name, long Rows)[]? Parts(string name, ModelConfig c)
    {
        long q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        if (Fused(name, "self_attn.qkv_proj.", out string prefix, out string suffix))
            return [(prefix + "self_attn.q_proj." + suffix, q), (prefix + "self_attn.k_proj." + suffix, kv), (prefix + "self_attn.v_proj." + suffix, kv)];
        if (Fused(name, "mlp.gate_up_proj.", out prefix, out suffix))
            return [(prefix + "mlp.gate_proj." + suffix, c.IntermediateSize), (prefix + "mlp.up_proj." + suffix, c.IntermediateSize)];
        return null;
    }

    static bool Fused(string name, string marker, out string prefix, out string suffix)
    {
        int at = name.IndexOf(marker, StringComparison.Ordinal);
        prefix = at < 0 ? "" : name[..at];
        suffix = at < 0 ? "" : name[(at + marker.Length)..];
        return at >= 0;
    }
}
