namespace Rollout.Engine.Sampling;

/// <summary>
/// One row of a sampling batch: a sequence about to receive its next token. The draw is keyed by
/// (<see cref="SamplingParams.Seed"/>, <paramref name="SampleIndex"/>, output position), so a seeded row
/// gets the same token whatever else is in the batch.
/// </summary>
/// <param name="Params">The request's sampling parameters, already validated.</param>
/// <param name="PromptTokenIds">The prompt (repetition penalty looks at it).</param>
/// <param name="OutputTokenIds">What this sequence generated so far; its length is the output position of the draw.</param>
/// <param name="SampleIndex">Which of the request's <see cref="SamplingParams.N"/> completions this is.</param>
/// <param name="EosTokenIds">The model's end-of-sequence ids, masked until <see cref="SamplingParams.MinTokens"/> unless EOS is ignored.</param>
internal sealed record SamplingRow(
    SamplingParams Params,
    IReadOnlyList<int> PromptTokenIds,
    IReadOnlyList<int> OutputTokenIds,
    int SampleIndex,
    IReadOnlyCollection<int> EosTokenIds);
