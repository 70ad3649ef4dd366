using Rollout.Models.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// Pre-norm decoder block: h = x + attn(norm(x)), then h + mlp(norm(h)). Where the products take the
/// residual adds (<see cref="Linear.ForwardAdd"/>), the block writes into <c>x</c> and returns it.
/// </summary>
internal sealed class DecoderLayer : nn.Module<Tensor, Tensor, ForwardBatch, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly SelfAttention self_attn;
    readonly SwiGluMlp mlp;
    readonly RmsNorm input_layernorm;
    readonly RmsNorm post_attention_layernorm;
#pragma warning restore IDE1006

    public DecoderLayer(ModelConfig config, int layer, RotaryEmbedding rope, ModelOptions options) : base(nameof(DecoderLayer))
    {
        self_attn = new SelfAttention(config, layer, rope, options);
        mlp = new SwiGluMlp(config.HiddenSize, config.IntermediateSize, config.MlpBias, options);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, options);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor positions, ForwardBatch batch)
    {
        using var scope = NewDisposeScope();
        var h = self_attn.forward(input_layernorm.forward(x), positions, batch, x);
        var output = mlp.forward(post_attention_layernorm.forward(h), h);
        return ReferenceEquals(output, x) ? output : output.MoveToOuterDisposeScope();
    }
}
