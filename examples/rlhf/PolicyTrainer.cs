using Rollout.Models;
using Rollout.Rewards;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Examples.Rlhf;

/// <summary>What one GRPO update saw: its loss, the KL to the reference, and engine-versus-trainer logprob gaps.</summary>
internal sealed record UpdateStatistics(double Loss, double Kl, float[] LogprobGaps);

/// <summary>
/// The trainer: the policy with gradients, a frozen reference copy for the KL term, and Adam. A
/// supervised warm-up step teaches the answer format; a GRPO step follows the group advantages.
/// </summary>
internal sealed class PolicyTrainer : IDisposable
{
    readonly optim.Optimizer _optimizer;
    readonly double _clip;
    readonly double _klWeight;
    CausalLanguageModel? _reference;

    public PolicyTrainer(CausalLanguageModel policy, double learningRate, double clip, double klWeight)
    {
        Policy = policy;
        _optimizer = optim.AdamW(policy.parameters(), learningRate, weight_decay: 0.0);
        _clip = clip;
        _klWeight = klWeight;
    }

    public CausalLanguageModel Policy { get; }

    public void UseLearningRate(double learningRate)
    {
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = learningRate;
    }

    /// <summary>Cross-entropy on the completion tokens of <paramref name="batch"/> (the answers) given their prompts.</summary>
    public double SupervisedStep(TrajectoryBatch batch)
    {
        using var scope = NewDisposeScope();
        var loss = -TokenLogprobs.Of(Policy, batch).Logprobs.mean();
        Step(loss);
        return loss.item<float>();
    }

    /// <summary>Freezes a copy of the policy as it is now: the reference the KL term measures against.</summary>
    public void FreezeReference(CausalLanguageModel copy)
    {
        using var noGrad = no_grad();
        var mine = Policy.Parameters();
        foreach (var (name, p) in copy.Parameters()) p.copy_(mine[name]);
        _reference = copy;
    }

    /// <summary>
    /// One GRPO update over a packed batch: the clipped ratio of the policy's logprob to the engine's
    /// (the behaviour policy), times the advantage, averaged over tokens, plus the KL to the reference
    /// (the k3 estimator). Before the update the policy holds exactly the engine's weights, so the
    /// engine's logprobs and the trainer's recomputation must agree; their gaps are returned.
    /// </summary>
    public UpdateStatistics GrpoStep(TrajectoryBatch batch)
    {
        using var scope = NewDisposeScope();
        var (logprobs, rows) = TokenLogprobs.Of(Policy, batch);
        var engine = batch.OldLogprobs.index_select(0, rows);
        var advantages = batch.TokenAdvantages.index_select(0, rows);
        float[] gaps = (logprobs.detach() - engine).abs().data<float>().ToArray();

        var ratio = (logprobs - engine).exp();
        var surrogate = minimum(ratio * advantages, ratio.clamp(1 - _clip, 1 + _clip) * advantages);
        var loss = -surrogate.mean();
        Tensor kl = zeros(1);
        if (_reference is not null)
        {
            Tensor reference;
            using (no_grad()) reference = TokenLogprobs.Of(_reference, batch).Logprobs;
            var delta = reference - logprobs;
            kl = (delta.exp() - delta - 1).mean();
            if (_klWeight > 0) loss = loss + _klWeight * kl;
        }
        Step(loss);
        return new UpdateStatistics(loss.item<float>(), kl.mean().item<float>(), gaps);
    }

    void Step(Tensor loss)
    {
        _optimizer.zero_grad();
        loss.backward();
        nn.utils.clip_grad_norm_(Policy.parameters(), 1.0);
        _optimizer.step();
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _reference?.Dispose();
    }
}
