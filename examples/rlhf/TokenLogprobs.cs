using Rollout.Models;
using Rollout.Models.Attention;
using Rollout.Rewards;
using static TorchSharp.torch;

namespace Rollout.Examples.Rlhf;

/// <summary>
/// The trainer's forward over a packed <see cref="TrajectoryBatch"/>: the logprob of every completion
/// token, through the same module code the engine serves, with gradients when they are on. Only the
/// rows that predict a completion token become logits.
/// </summary>
internal static class TokenLogprobs
{
    /// <summary>Logprobs [completion tokens], sequence after sequence, and the mask's row indices they came from.</summary>
    public static (Tensor Logprobs, Tensor Rows) Of(CausalLanguageModel model, TrajectoryBatch batch)
    {
        var hidden = model.Forward(new ForwardBatch(batch.InputIds, batch.Positions, new UncachedAttention(batch.SequenceLengths)));
        var rows = batch.LossMask.nonzero().squeeze(1);
        var logits = model.ComputeLogits(hidden, rows);
        return (logits.log_softmax(-1).gather(1, batch.TargetIds.index_select(0, rows).unsqueeze(1)).squeeze(1), rows);
    }
}
