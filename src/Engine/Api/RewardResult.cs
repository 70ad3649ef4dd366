namespace Rollout.Engine;

/// <summary>The reward model's score of a sequence (<see cref="LlmEngine.RewardAsync"/>).</summary>
/// <param name="Reward">The sequence-classification head's output at the sequence's last token.</param>
/// <param name="WeightVersion">The weight version that computed it.</param>
public sealed record RewardResult(float Reward, long WeightVersion);
