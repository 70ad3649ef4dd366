namespace Rollout.Client;

/// <summary>
/// One sampled completion of a prompt, as a training loop consumes it: token ids in and out, the
/// engine's logprob of every generated token, and the weight version that produced each token.
/// </summary>
public sealed record Trajectory
{
    /// <summary>Which prompt of the call this completion belongs to (of all the prompts given so far, for <see cref="PartialRollouts"/>).</summary>
    public required int PromptIndex { get; init; }

    /// <summary>Which of the prompt's n completions this is.</summary>
    public required int Index { get; init; }

    /// <summary>The prompt's token ids, as sent.</summary>
    public required IReadOnlyList<int> PromptTokenIds { get; init; }

    /// <summary>The generated token ids (never re-tokenised).</summary>
    public required IReadOnlyList<int> CompletionTokenIds { get; init; }

    /// <summary>The engine's logprob of each generated token (raw or processed, as the sampling asked); always there, one per token.</summary>
    public required IReadOnlyList<float> Logprobs { get; init; }

    /// <summary>The weight version that produced each generated token.</summary>
    public required IReadOnlyList<long> WeightVersions { get; init; }

    /// <summary>
    /// How many tokens each generated token was drawn from: its sampling support, what top-k, top-p and min-p kept
    /// (1 for a greedy draw), so a trainer can renormalise over it. Null unless <see cref="Engine.Sampling.SamplingParams.ReturnSupport"/> asked.
    /// </summary>
    public IReadOnlyList<int>? SupportSizes { get; init; }

    /// <summary>The ids, ascending, of each generated token's sampling support; null unless <see cref="Engine.Sampling.SamplingParams.ReturnSupport"/> is <see cref="Engine.Sampling.SamplingSupport.Ids"/>.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? SupportIds { get; init; }

    /// <summary><c>stop</c>, <c>length</c> or <c>abort</c>.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The completion's token ids decoded (special tokens skipped as the sampling asks), where the client has a tokenizer; null otherwise.</summary>
    public string? Text { get; init; }

    /// <summary>The oldest weight version among the generated tokens (0 for an empty completion).</summary>
    public long OldestVersion => WeightVersions.Count == 0 ? 0 : WeightVersions.Min();

    /// <summary>The newest weight version among the generated tokens (0 for an empty completion).</summary>
    public long NewestVersion => WeightVersions.Count == 0 ? 0 : WeightVersions.Max();
}
