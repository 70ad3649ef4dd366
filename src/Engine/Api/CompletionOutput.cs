using Rollout.Engine.Sampling;
using Rollout.Engine.Sequences;

namespace Rollout.Engine;

/// <summary>
/// One of a request's <see cref="SamplingParams.N"/> completions, as far as it has been generated. Its
/// lists are views that later steps do not change; <see cref="NewText"/> and the lists cost nothing to
/// hand out, and the cumulative <see cref="Text"/> is built only when read.
/// </summary>
public sealed record CompletionOutput
{
    readonly AppendOnlyList<char>.View _shown;
    string? _text;

    internal CompletionOutput(AppendOnlyList<char>.View shown) => _shown = shown;

    /// <summary>Which completion of the request this is (0-based).</summary>
    public required int Index { get; init; }
    /// <summary>Every token generated so far.</summary>
    public required IReadOnlyList<int> TokenIds { get; init; }
    /// <summary>The text shown so far: detokenized, never half a character, stop strings cut as asked.</summary>
    public string Text => _text ??= new string(_shown.AsSpan());
    /// <summary>Text added since the previous output of this request.</summary>
    public required string NewText { get; init; }
    /// <summary>Logprob of each generated token (raw or processed per <see cref="SamplingParams.LogprobsMode"/>); null unless logprobs were asked for.</summary>
    public IReadOnlyList<float>? Logprobs { get; init; }
    /// <summary>The most likely alternatives at each position, best first; null unless <see cref="SamplingParams.Logprobs"/> > 0.</summary>
    public IReadOnlyList<IReadOnlyList<TokenLogprob>>? TopLogprobs { get; init; }
    /// <summary>How many tokens each generated token was drawn from (its sampling support); null unless <see cref="SamplingParams.ReturnSupport"/> asked.</summary>
    public IReadOnlyList<int>? SupportSizes { get; init; }
    /// <summary>The ids, ascending, of the tokens each generated token was drawn from; null unless <see cref="SamplingParams.ReturnSupport"/> is <see cref="SamplingSupport.Ids"/>.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? SupportIds { get; init; }
    /// <summary>The weight version that produced each token.</summary>
    public required IReadOnlyList<long> WeightVersions { get; init; }
    /// <summary>Why it ended (<c>stop</c>, <c>length</c> or <c>abort</c>); null while it runs.</summary>
    public string? FinishReason { get; init; }
    /// <summary>The stop string or stop token id that ended it, if one did.</summary>
    public object? StopReason { get; init; }
    /// <summary>Whether it has ended.</summary>
    public bool Finished => FinishReason is not null;
}
