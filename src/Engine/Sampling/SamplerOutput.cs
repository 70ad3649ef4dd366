namespace Rollout.Engine.Sampling;

/// <summary>A token and its logprob under some distribution.</summary>
/// <param name="TokenId">The token.</param>
/// <param name="Logprob">Its natural-log probability.</param>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>
/// A token chosen (or observed, for prompts) at one position, with its logprob and the most likely
/// alternatives, best first, when they were asked for.
/// </summary>
/// <param name="TokenId">The token.</param>
/// <param name="Logprob">Its logprob; null when the request did not ask for logprobs.</param>
/// <param name="TopLogprobs">The most likely tokens at this position, best first; empty unless asked for.</param>
/// <param name="Support">The support it was drawn from; null unless the request asked (<see cref="SamplingParams.ReturnSupport"/>).</param>
internal sealed record ScoredToken(int TokenId, float? Logprob, IReadOnlyList<TokenLogprob> TopLogprobs, DrawSupport? Support = null);

/// <summary>The tokens one draw could have chosen (<see cref="SamplingSupport"/>).</summary>
/// <param name="Size">How many there are.</param>
/// <param name="Ids">Their ids, ascending; null unless <see cref="SamplingSupport.Ids"/> was asked for.</param>
internal sealed record DrawSupport(int Size, int[]? Ids);

/// <summary>What <see cref="Sampler.Sample"/> chose, one entry per input row in the same order.</summary>
internal sealed record SamplerOutput(IReadOnlyList<ScoredToken> Tokens);
