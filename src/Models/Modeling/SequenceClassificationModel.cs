using Rollout.Models.Configuration;
using Rollout.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models;

/// <summary>
/// A decoder with HF's sequence-classification head (<c>score</c>, no bias): the reward or value
/// of a sequence is the head applied to its last token's hidden state.
/// </summary>
public sealed class SequenceClassificationModel : TransformerModel
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Linear score;
#pragma warning restore IDE1006

    internal SequenceClassificationModel(ModelConfig config, ModelOptions options) : base(config, options)
    {
        score = new Linear(config.HiddenSize, config.NumLabels, false, options);
        RegisterComponents();
    }

    /// <summary>Float32 scores [R, num_labels] for the rows <paramref name="rows"/> (e.g. each sequence's last token).</summary>
    public Tensor ComputeScores(Tensor hidden, Tensor rows)
    {
        using var scope = NewDisposeScope();
        return score.forward(hidden.index_select(0, rows)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
