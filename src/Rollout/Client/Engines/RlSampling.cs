using System.Globalization;
using MessagePack;
using Rollout.Engine.Sampling;

namespace Rollout.Client.Engines;

/// <summary>
/// <see cref="SamplingParams"/> as the server's sampling fields spell them (docs/http-api.md), every field
/// written, so that a remote engine samples exactly as a local one given the same parameters.
/// </summary>
[MessagePackObject]
internal sealed class RlSampling
{
    [Key("n")] public int N { get; init; }
    [Key("temperature")] public float Temperature { get; init; }
    [Key("top_k")] public int TopK { get; init; }
    [Key("top_p")] public float TopP { get; init; }
    [Key("min_p")] public float MinP { get; init; }
    [Key("repetition_penalty")] public float RepetitionPenalty { get; init; }
    [Key("presence_penalty")] public float PresencePenalty { get; init; }
    [Key("frequency_penalty")] public float FrequencyPenalty { get; init; }
    // JSON object keys are strings, and the server reads the MessagePack body as JSON.
    [Key("logit_bias")] public required Dictionary<string, float> LogitBias { get; init; }
    [Key("seed")] public long? Seed { get; init; }
    [Key("stop_token_ids")] public required int[] StopTokenIds { get; init; }
    [Key("stop")] public required string[] Stop { get; init; }
    [Key("max_tokens")] public int? MaxTokens { get; init; }
    [Key("min_tokens")] public int MinTokens { get; init; }
    [Key("ignore_eos")] public bool IgnoreEos { get; init; }
    [Key("logprobs")] public int? Logprobs { get; init; }
    [Key("logprobs_mode")] public required string LogprobsMode { get; init; }
    // Absent (null) for none: the server accepts only the values that ask for something.
    [Key("return_support")] public string? ReturnSupport { get; init; }
    [Key("skip_special_tokens")] public bool SkipSpecialTokens { get; init; }
    [Key("include_stop_str_in_output")] public bool IncludeStopStringInOutput { get; init; }

    public static RlSampling From(SamplingParams s) => new()
    {
        N = s.N,
        Temperature = s.Temperature,
        TopK = s.TopK,
        TopP = s.TopP,
        MinP = s.MinP,
        RepetitionPenalty = s.RepetitionPenalty,
        PresencePenalty = s.PresencePenalty,
        FrequencyPenalty = s.FrequencyPenalty,
        LogitBias = s.LogitBias.ToDictionary(e => e.Key.ToString(CultureInfo.InvariantCulture), e => e.Value),
        Seed = s.Seed,
        StopTokenIds = [.. s.StopTokenIds],
        Stop = [.. s.Stop],
        MaxTokens = s.MaxTokens,
        MinTokens = s.MinTokens,
        IgnoreEos = s.IgnoreEos,
        Logprobs = s.Logprobs,
        LogprobsMode = s.LogprobsMode == Engine.Sampling.LogprobsMode.Processed ? "processed" : "raw",
        ReturnSupport = s.ReturnSupport switch
        {
            SamplingSupport.Size => "size",
            SamplingSupport.Ids => "ids",
            _ => null,
        },
        SkipSpecialTokens = s.SkipSpecialTokens,
        IncludeStopStringInOutput = s.IncludeStopStringInOutput,
    };
}
