using Rollout.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Requests;

/// <summary>A reward model's score of a sequence: the sequence-classification head at its last token, as HF computes it.</summary>
internal sealed class RewardRequest(string id, int[] tokenIds, SequenceClassificationModel model) : PrefillRequest<RewardResult>(id, tokenIds, computeFrom: null)
{
    float _reward;

    public override int RowsIn(int start, int count) => start + count == Sequence.NumTokens ? 1 : 0;

    public override void Read(Tensor hidden, int firstPosition)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _reward = model.ComputeScores(hidden, zeros(1, ScalarType.Int64, hidden.device)).cpu().item<float>();
    }

    protected override RewardResult Result(long weightVersion) => new(_reward, weightVersion);
}
