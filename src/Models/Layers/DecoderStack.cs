using Rollout.Models.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>HF's <c>model.</c> part: token embedding, the decoder layers, the final norm.</summary>
internal sealed class DecoderStack : nn.Module<ForwardBatch, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Embedding embed_tokens;
    readonly ModuleList<DecoderLayer> layers;
    readonly RmsNorm norm;
#pragma warning restore IDE1006
    readonly RotaryEmbedding _rope;

    public DecoderStack(ModelConfig config, ModelOptions options) : base(nameof(DecoderStack))
    {
        var (dtype, device) = (options.DType, options.Device);
        _rope = new RotaryEmbedding(config, options);
        embed_tokens = new Embedding(config.VocabSize, config.HiddenSize, dtype, device);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers)
            .Select(i => new DecoderLayer(config, i, _rope, options)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, options);
        RegisterComponents();
    }

    public Tensor EmbeddingWeight => embed_tokens.Weight;

    public override Tensor forward(ForwardBatch batch)
    {
        using var scope = NewDisposeScope();
        _rope.EnsureCovers(batch.Positions);
        var x = embed_tokens.forward(batch.InputIds);
        foreach (var layer in layers) x = layer.forward(x, batch.Positions, batch);
        return norm.forward(x).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
