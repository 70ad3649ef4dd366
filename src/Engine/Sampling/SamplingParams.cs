using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Rollout.Engine.Sampling;

/// <summary>
/// How the tokens of one request are chosen, with vLLM's and OpenAI's semantics. The default samples one
/// completion from the model's distribution at temperature 1, unfiltered, until the context is full.
/// </summary>
/// <remarks>
/// Logits go through, in this order: logit bias, min-tokens masking, repetition penalty, presence and
/// frequency penalties, temperature, top-k, top-p, min-p, then the draw.
/// </remarks>
public sealed record SamplingParams
{
    /// <summary>The most alternatives <see cref="Logprobs"/> and <see cref="PromptLogprobs"/> may ask for.</summary>
    public const int MaxLogprobs = 20;

    /// <summary>Temperatures below this count as 0: dividing logits by them could overflow float32.</summary>
    public const float GreedyTemperature = 1e-5f;

    const float MaxAbsoluteLogitBias = 100f;
    const float MaxAbsolutePresenceOrFrequencyPenalty = 2f;

    /// <summary>Completions to sample for the prompt (at least 1); completion <c>i</c> draws with a seed derived from (<see cref="Seed"/>, i).</summary>
    public int N { get; init; } = 1;

    /// <summary>Divides the logits; 0 (or anything below <see cref="GreedyTemperature"/>) picks the most likely token, the lowest id on ties.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keeps the tokens whose logit is at least the k-th largest (ties at the boundary are all kept); 0 or -1 turns it off.</summary>
    public int TopK { get; init; }

    /// <summary>
    /// Keeps the most likely tokens until their mass reaches p (ties with the last one kept are kept too),
    /// computed after top-k; 1 turns it off. In (0, 1].
    /// </summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drops the tokens whose probability is below <c>MinP</c> times the most likely token's; 0 turns it off. In [0, 1].</summary>
    public float MinP { get; init; }

    /// <summary>
    /// For every token present in the prompt or the output so far, divides a positive logit by this value and
    /// multiplies a negative one (HF/vLLM); 1 turns it off. Greater than 0.
    /// </summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Subtracted from the logit of every token already in the output (OpenAI/vLLM). In [-2, 2].</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Subtracted from a token's logit once per occurrence in the output so far (OpenAI/vLLM). In [-2, 2].</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Added to the logits of the given token ids before anything else. Values in [-100, 100].</summary>
    public IReadOnlyDictionary<int, float> LogitBias { get; init; } = new Dictionary<int, float>();

    /// <summary>Makes the draws reproducible whatever else is in the batch; null draws from the engine's own random source.</summary>
    public long? Seed { get; init; }

    /// <summary>Token ids that end the completion (the id is part of the output).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Strings that end the completion; the output ends before the string unless <see cref="IncludeStopStringInOutput"/>.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Most tokens to generate; null generates until the context window is full.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Fewest tokens to generate: until reached, the EOS ids (unless <see cref="IgnoreEos"/>) and <see cref="StopTokenIds"/> cannot be sampled.</summary>
    public int MinTokens { get; init; }

    /// <summary>Keeps generating after the model's EOS token.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>When set, each sampled token comes with its logprob and this many most likely alternatives (0 to 20).</summary>
    public int? Logprobs { get; init; }

    /// <summary>When set, each prompt token (after the first) comes with its logprob and this many most likely alternatives (0 to 20).</summary>
    public int? PromptLogprobs { get; init; }

    /// <summary>Whether <see cref="Logprobs"/> describe the model's distribution or the one actually sampled from.</summary>
    public LogprobsMode LogprobsMode { get; init; } = LogprobsMode.Raw;

    /// <summary>Whether each generated token comes with the size, or the ids, of the support it was drawn from.</summary>
    public SamplingSupport ReturnSupport { get; init; } = SamplingSupport.None;

    /// <summary>Leaves special tokens out of the output text.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>Ends the output text after the matched stop string rather than before it.</summary>
    public bool IncludeStopStringInOutput { get; init; }

    internal bool IsGreedy => Temperature < GreedyTemperature;

    /// <summary>Checks every parameter against its allowed range for a model with <paramref name="vocabSize"/> tokens.</summary>
    /// <exception cref="InvalidSamplingParametersException">The first parameter out of range, named in the message with its range.</exception>
    public void Validate(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        if (N < 1) Fail("n", "must be >= 1", N);
        if (!(Temperature >= 0 && float.IsFinite(Temperature))) Fail("temperature", "must be a finite number >= 0", Temperature);
        if (TopK < -1) Fail("top_k", "must be -1 or 0 (off) or >= 1", TopK);
        if (!(TopP > 0 && TopP <= 1)) Fail("top_p", "must be in (0, 1]", TopP);
        if (!(MinP >= 0 && MinP <= 1)) Fail("min_p", "must be in [0, 1]", MinP);
        if (!(RepetitionPenalty > 0 && float.IsFinite(RepetitionPenalty))) Fail("repetition_penalty", "must be a finite number > 0", RepetitionPenalty);
        if (!(Math.Abs(PresencePenalty) <= MaxAbsolutePresenceOrFrequencyPenalty)) Fail("presence_penalty", "must be in [-2, 2]", PresencePenalty);
        if (!(Math.Abs(FrequencyPenalty) <= MaxAbsolutePresenceOrFrequencyPenalty)) Fail("frequency_penalty", "must be in [-2, 2]", FrequencyPenalty);
        if (LogitBias is null) Fail("logit_bias", "must not be null", "null");
        foreach (var (id, bias) in LogitBias)
        {
            if (id < 0 || id >= vocabSize) Fail("logit_bias", $"token ids must be in [0, {vocabSize})", id);
            if (!(Math.Abs(bias) <= MaxAbsoluteLogitBias)) Fail("logit_bias", "values must be in [-100, 100]", bias);
        }
        if (StopTokenIds is null) Fail("stop_token_ids", "must not be null", "null");
        foreach (int id in StopTokenIds)
            if (id < 0 || id >= vocabSize) Fail("stop_token_ids", $"must be in [0, {vocabSize})", id);
        if (Stop is null) Fail("stop", "must not be null", "null");
        foreach (string stop in Stop)
            if (string.IsNullOrEmpty(stop)) Fail("stop", "strings must be non-empty", stop is null ? "null" : "\"\"");
        if (MaxTokens < 1) Fail("max_tokens", "must be >= 1", MaxTokens);
        if (MinTokens < 0) Fail("min_tokens", "must be >= 0", MinTokens);
        if (MinTokens > MaxTokens) Fail("min_tokens", $"must be <= max_tokens ({MaxTokens})", MinTokens);
        if (Logprobs is < 0 or > MaxLogprobs) Fail("logprobs", $"must be in [0, {MaxLogprobs}]", Logprobs);
        if (PromptLogprobs is < 0 or > MaxLogprobs) Fail("prompt_logprobs", $"must be in [0, {MaxLogprobs}]", PromptLogprobs);
        if (!Enum.IsDefined(LogprobsMode)) Fail("logprobs_mode", "must be raw or processed", LogprobsMode);
        if (!Enum.IsDefined(ReturnSupport)) Fail("return_support", "must be none, size or ids", ReturnSupport);
    }

    [DoesNotReturn]
    static void Fail(string name, string rule, object? value) =>
        throw new InvalidSamplingParametersException(name, $"{name} {rule}, got {Convert.ToString(value, CultureInfo.InvariantCulture)}");
}
