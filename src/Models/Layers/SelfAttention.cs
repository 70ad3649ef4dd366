using Rollout.Models.Attention;
using Rollout.Models.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// Grouped-query self-attention of the Llama family: q/k/v projections fused into one matmul
/// (<c>qkv_proj</c>; <see cref="ParameterFusion"/> maps HF's q_proj/k_proj/v_proj onto its rows), optional
/// per-head q/k RMSNorm (Qwen3), RoPE, attention through the batch's <see cref="IAttentionContext"/>,
/// output projection.
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor, ForwardBatch, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Linear qkv_proj;
    readonly Linear o_proj;
    readonly RmsNorm? q_norm;
    readonly RmsNorm? k_norm;
#pragma warning restore IDE1006
    readonly int _layer;
    readonly int _heads;
    readonly int _kvHeads;
    readonly int _headDim;
    readonly AttentionLayerOptions _options;
    readonly RotaryEmbedding _rope;

    public SelfAttention(ModelConfig config, int layer, RotaryEmbedding rope, ModelOptions options) : base(nameof(SelfAttention))
    {
        _layer = layer;
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _options = new AttentionLayerOptions(config.WindowOfLayer(layer));
        _rope = rope;
        qkv_proj = new Linear(config.HiddenSize, (_heads + 2 * _kvHeads) * _headDim, config.QkvBias, options);
        o_proj = new Linear(_heads * _headDim, config.HiddenSize, config.OutputBias, options);
        if (config.QkNorm)
        {
            q_norm = new RmsNorm(_headDim, config.RmsNormEps, options);
            k_norm = new RmsNorm(_headDim, config.RmsNormEps, options);
        }
        RegisterComponents();
    }

    /// <summary><paramref name="x"/> is [T, hidden]; <paramref name="positions"/> [T].</summary>
    public override Tensor forward(Tensor x, Tensor positions, ForwardBatch batch)
    {
        using var scope = NewDisposeScope();
        long tokens = x.shape[0];
        var qkv = qkv_proj.forward(x);
        var q = qkv.narrow(-1, 0, _heads * _headDim).reshape(tokens, _heads, _headDim);
        var k = qkv.narrow(-1, _heads * _headDim, _kvHeads * _headDim).reshape(tokens, _kvHeads, _headDim);
        var v = qkv.narrow(-1, (_heads + _kvHeads) * _headDim, _kvHeads * _headDim).reshape(tokens, _kvHeads, _headDim);
        if (q_norm is not null) q = q_norm.forward(q);
        if (k_norm is not null) k = k_norm!.forward(k);
        q = _rope.Apply(q, positions);
        k = _rope.Apply(k, positions);
        var attended = batch.Attention.Attend(_layer, q, k, v, _options);
        return o_proj.forward(attended.reshape(tokens, _heads * _headDim)).MoveToOuterDisposeScope();
    }
}
