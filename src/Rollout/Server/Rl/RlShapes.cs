using MessagePack;

namespace Rollout.Server.Rl;

/// <summary>The body of <c>/rl/generate</c>'s answer: one result per prompt, in prompt order.</summary>
[MessagePackObject]
public sealed class RlGenerateResponse
{
    /// <summary>One result per prompt.</summary>
    [Key("results")] public required RlResult[] Results { get; init; }
}

/// <summary>The completions of one prompt.</summary>
[MessagePackObject]
public sealed class RlResult
{
    /// <summary>The prompt's n completions, by index.</summary>
    [Key("completions")] public required RlCompletion[] Completions { get; init; }
}

/// <summary>One completion as token ids, with per-token logprobs and weight versions.</summary>
[MessagePackObject]
public sealed class RlCompletion
{
    /// <summary>Which of the prompt's n completions this is.</summary>
    [Key("index")] public int Index { get; init; }

    /// <summary>The generated token ids.</summary>
    [Key("token_ids")] public required int[] TokenIds { get; init; }

    /// <summary>Logprob of each generated token (raw or processed as asked); null unless <c>sampling.logprobs</c> was given.</summary>
    [Key("logprobs")] public float[]? Logprobs { get; init; }

    /// <summary>The best alternatives at each position; null unless <c>sampling.logprobs</c> > 0.</summary>
    [Key("top_logprobs")] public RlTokenLogprob[][]? TopLogprobs { get; init; }

    /// <summary>The weight version that produced each token.</summary>
    [Key("weight_versions")] public required long[] WeightVersions { get; init; }

    /// <summary>How many tokens each generated token was drawn from; null unless <c>sampling.return_support</c> was given.</summary>
    [Key("support_sizes")] public int[]? SupportSizes { get; init; }

    /// <summary>The ids, ascending, of the tokens each generated token was drawn from; null unless <c>sampling.return_support</c> is <c>ids</c>.</summary>
    [Key("support_ids")] public int[][]? SupportIds { get; init; }

    /// <summary><c>stop</c>, <c>length</c> or <c>abort</c>.</summary>
    [Key("finish_reason")] public string? FinishReason { get; init; }
}

/// <summary>A token id and its logprob.</summary>
[MessagePackObject]
public sealed class RlTokenLogprob
{
    /// <summary>The token.</summary>
    [Key("token_id")] public int TokenId { get; init; }

    /// <summary>Its logprob.</summary>
    [Key("logprob")] public float Logprob { get; init; }
}

/// <summary>One streamed line of <c>/rl/generate</c> with <c>stream: true</c>: a completion that just finished.</summary>
[MessagePackObject]
public sealed class RlStreamedCompletion
{
    /// <summary>Which prompt it belongs to.</summary>
    [Key("prompt_index")] public int PromptIndex { get; init; }

    /// <summary>The completion.</summary>
    [Key("completion")] public required RlCompletion Completion { get; init; }
}
