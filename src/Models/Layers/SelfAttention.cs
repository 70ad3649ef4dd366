using Rollout.Models.Attention;
using Rollout.Models.Configuration;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// Grouped-query self-attention of the Llama family: q/k/v projections fused into one matmul
/// (<c>qkv_proj</c>; <see cref="ParameterFusion"/> maps HF's q_proj/k_proj/v_proj onto its rows), optional
/// per-head q/k RMSNorm (Qwen3), RoPE (inside the q/k/v product where it can: <see cref="PanelEpilogue.Rotate"/>), attention through the batch's <see cref="IAttentionContext"/>,
/// output projection, whose product the residual add after it joins (<see cref="Linear.ForwardAdd"/>).
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor, ForwardBatch, Tensor, Tensor>
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
        _options = new AttentionLayerOptions(config.WindowOfLayer(layer), options.BatchInvariant);
        _rope = rope;
        int qkvRows = (_heads + 2 * _kvHeads) * _headDim;
        // q and k rotate inside the product where nothing comes between it and the rotation (no q/k norm)
        // and the heads split into whole panel pairs.
        var rotary = PanelLayout.Rotary(_headDim, (_heads + _kvHeads) * _headDim);
        bool rotateInProduct = options.FastCpuKernels && !config.QkNorm && !config.QkvBias && rotary.Fits(qkvRows);
        qkv_proj = new Linear(config.HiddenSize, qkvRows, config.QkvBias, options, rotateInProduct ? rotary : PanelLayout.Plain);
        o_proj = new Linear(_heads * _headDim, config.HiddenSize, config.OutputBias, options);
        if (config.QkNorm)
        {
            q_norm = new RmsNorm(_headDim, config.RmsNormEps, options);
            k_norm = new RmsNorm(_headDim, config.RmsNormEps, options);
        }
        RegisterComponents();
    }

    /// <summary>
    /// <paramref name="residual"/> + attention over <paramref name="x"/> [T, hidden] at <paramref name="positions"/>
    /// [T]; the sum may be written into <paramref name="residual"/> and returned.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor positions, ForwardBatch batch, Tensor residual)
    {
        using var scope = NewDisposeScope();
        long tokens = x.shape[0];
        // A plain layout refuses at once, so only a rotary layer rotates here.
        var qkv = _rope.TryProjectRotated(qkv_proj, x, positions, out var product) ? product : null;
        bool rotated = qkv is not null;
        qkv ??= qkv_proj.forward(x);
        var q = qkv.narrow(-1, 0, _heads * _headDim).reshape(tokens, _heads, _headDim);
        var k = qkv.narrow(-1, _heads * _headDim, _kvHeads * _headDim).reshape(tokens, _kvHeads, _headDim);
        var v = qkv.narrow(-1, (_heads + _kvHeads) * _headDim, _kvHeads * _headDim).reshape(tokens, _kvHeads, _headDim);
        if (!rotated)
        {
            if (q_norm is not null) q = q_norm.forward(q);
            if (k_norm is not null) k = k_norm!.forward(k);
            q = _rope.Apply(q, positions);
            k = _rope.Apply(k, positions);
        }
        var attended = batch.Attention.Attend(_layer, q, k, v, _options);
        var sum = o_proj.ForwardAdd(attended.reshape(tokens, _heads * _headDim), residual);
        return ReferenceEquals(sum, residual) ? sum : sum.MoveToOuterDisposeScope();
    }
}
