namespace Rollout.Engine;

/// <summary>The scored completion of <see cref="LlmEngine.ScoreAsync"/>.</summary>
/// <param name="Logprobs">The logprob of each completion token given everything before it, in completion order.</param>
/// <param name="WeightVersion">The weight version that computed every one of them.</param>
public sealed record ScoreResult(float[] Logprobs, long WeightVersion);
