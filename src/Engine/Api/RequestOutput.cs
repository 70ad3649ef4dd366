using Rollout.Engine.Sampling;

namespace Rollout.Engine;

/// <summary>A snapshot of a request: its prompt, each completion so far, and whether all have ended.</summary>
public sealed record RequestOutput
{
    /// <summary>The request's id.</summary>
    public required string RequestId { get; init; }
    /// <summary>The prompt's token ids.</summary>
    public required IReadOnlyList<int> PromptTokenIds { get; init; }
    /// <summary>Logprob of each prompt token after the first under the model (raw), with alternatives; null unless asked for.</summary>
    public IReadOnlyList<TokenLogprob>? PromptLogprobs { get; init; }
    /// <summary>The most likely alternatives at each prompt position; null unless asked for.</summary>
    public IReadOnlyList<IReadOnlyList<TokenLogprob>>? PromptTopLogprobs { get; init; }
    /// <summary>The completions, by index.</summary>
    public required IReadOnlyList<CompletionOutput> Outputs { get; init; }
    /// <summary>Prompt tokens whose KV came from the prefix cache (first admission of each completion).</summary>
    public int CachedPromptTokens { get; init; }
    /// <summary>Whether every completion has ended.</summary>
    public bool Finished => Outputs.All(o => o.Finished);
}
