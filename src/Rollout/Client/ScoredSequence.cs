namespace Rollout.Client;

/// <summary>A prompt and a completion to score: the logprob of each completion token given everything before it.</summary>
public sealed record ScoreRequest(IReadOnlyList<int> PromptTokenIds, IReadOnlyList<int> CompletionTokenIds);

/// <summary>The logprobs of a scored completion's tokens, and the weight version that computed them.</summary>
public sealed record ScoredSequence(IReadOnlyList<float> Logprobs, long WeightVersion);
