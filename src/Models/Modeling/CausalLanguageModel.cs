using Rollout.Models.Configuration;
using Rollout.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models;

/// <summary>A decoder with a language-modelling head (<c>lm_head</c>, or the embedding when tied).</summary>
public sealed class CausalLanguageModel : TransformerModel
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Linear? lm_head;
#pragma warning restore IDE1006
    readonly CpuPackedLinear? _tiedHead;

    internal CausalLanguageModel(ModelConfig config, ModelOptions options) : base(config, options)
    {
        if (config.TieWordEmbeddings)
            _tiedHead = new CpuPackedLinear(model.EmbeddingWeight, null, options.FastCpuKernels, batchInvariant: options.BatchInvariant);
        else
            lm_head = new Linear(config.HiddenSize, config.VocabSize, false, options);
        RegisterComponents();
    }

    /// <summary>
    /// Float32 logits [R, vocab] for the rows <paramref name="rows"/> (int64 indices into
    /// <paramref name="hidden"/>), or for every row when null.
    /// </summary>
    public Tensor ComputeLogits(Tensor hidden, Tensor? rows = null)
    {
        using var scope = NewDisposeScope();
        var h = rows is null ? hidden : hidden.index_select(0, rows);
        var logits = lm_head is not null ? lm_head.forward(h) : _tiedHead!.Forward(h);
        return logits.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    internal override IEnumerable<CpuPackedLinear> PackedProducts() =>
        _tiedHead is null ? base.PackedProducts() : base.PackedProducts().Append(_tiedHead);

    internal override void PrepareInference()
    {
        base.PrepareInference();
        _tiedHead?.Prepare();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _tiedHead?.Dispose();
        base.Dispose(disposing);
    }

    internal override bool IgnoresCheckpointTensor(string name) =>
        base.IgnoresCheckpointTensor(name) || (lm_head is null && name == "lm_head.weight");
}
