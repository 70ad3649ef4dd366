using Rollout.Engine.Sampling;

namespace Rollout.Server.Http;

/// <summary>How an endpoint spells logprobs: an integer (completions, RL) or a flag with <c>top_logprobs</c> (chat).</summary>
internal enum LogprobsStyle { Count, FlagWithTop }

/// <summary>
/// The sampling fields shared by the OpenAI endpoints and <c>/rl/generate</c>, with OpenAI's and vLLM's
/// names, read into <see cref="SamplingParams"/>. Types and ranges are checked here; what depends on
/// the model (token ids, the context) is checked when the request is added.
/// </summary>
internal static class SamplingFields
{
    /// <summary>Reads the fields of <paramref name="body"/>; <c>max_tokens</c> stays null when absent (the endpoint fills it per prompt).</summary>
    /// <param name="body">The object holding the fields.</param>
    /// <param name="style">How the endpoint spells logprobs.</param>
    /// <param name="vocabSize">The model's vocabulary size.</param>
    /// <param name="reportsSupport">
    /// Whether the endpoint's answer carries the sampling support (<c>return_support</c>); an endpoint that does not
    /// refuses the field rather than compute what it would drop.
    /// </param>
    public static SamplingParams Read(RequestBody body, LogprobsStyle style, int vocabSize, bool reportsSupport = false)
    {
        int? logprobs = style switch
        {
            LogprobsStyle.Count => body.Int("logprobs", 0, SamplingParams.MaxLogprobs),
            _ => body.Bool("logprobs") == true ? body.Int("top_logprobs", 0, SamplingParams.MaxLogprobs) ?? 0
                : body.Has("top_logprobs") ? throw ApiException.BadRequest("top_logprobs needs logprobs: true", "top_logprobs") : null,
        };
        int? maxTokens = body.Int("max_completion_tokens", 1) ?? body.Int("max_tokens", 1);
        var sampling = new SamplingParams
        {
            N = body.Int("n", 1, int.MaxValue) ?? 1,
            Temperature = body.Float("temperature", 0, 1e6f) ?? 1f,
            TopP = body.Float("top_p", 0, 1) ?? 1f,
            TopK = body.Int("top_k", -1, vocabSize) ?? 0,
            MinP = body.Float("min_p", 0, 1) ?? 0f,
            RepetitionPenalty = body.Float("repetition_penalty", 0, 1e6f) ?? 1f,
            PresencePenalty = body.Float("presence_penalty", -2, 2) ?? 0f,
            FrequencyPenalty = body.Float("frequency_penalty", -2, 2) ?? 0f,
            LogitBias = LogitBias(body, vocabSize),
            Seed = body.Long("seed"),
            Stop = body.Strings("stop") ?? [],
            StopTokenIds = body.Ints("stop_token_ids", 0, vocabSize - 1) ?? [],
            MaxTokens = maxTokens,
            MinTokens = body.Int("min_tokens", 0) ?? 0,
            IgnoreEos = body.Bool("ignore_eos") ?? false,
            Logprobs = logprobs,
            PromptLogprobs = body.Int("prompt_logprobs", 0, SamplingParams.MaxLogprobs),
            LogprobsMode = body.String("logprobs_mode") switch
            {
                null or "raw" => LogprobsMode.Raw,
                "processed" => LogprobsMode.Processed,
                var other => throw ApiException.BadRequest($"logprobs_mode must be raw or processed, not '{other}'", body.Path("logprobs_mode")),
            },
            ReturnSupport = ReturnSupport(body, reportsSupport),
            SkipSpecialTokens = body.Bool("skip_special_tokens") ?? true,
            IncludeStopStringInOutput = body.Bool("include_stop_str_in_output") ?? false,
        };
        try
        {
            sampling.Validate(vocabSize);
        }
        catch (InvalidSamplingParametersException e)
        {
            throw ApiException.BadRequest(e.Message, body.Path(e.ParameterName));
        }
        return sampling;
    }

    static SamplingSupport ReturnSupport(RequestBody body, bool reportsSupport)
    {
        string? value = body.String("return_support");
        if (value is not null && !reportsSupport)
            throw ApiException.BadRequest("return_support is answered only by /rl/generate", body.Path("return_support"));
        return value switch
        {
            null => SamplingSupport.None,
            "size" => SamplingSupport.Size,
            "ids" => SamplingSupport.Ids,
            _ => throw ApiException.BadRequest($"return_support must be size or ids, not '{value}'", body.Path("return_support")),
        };
    }

    static Dictionary<int, float> LogitBias(RequestBody body, int vocabSize)
    {
        var result = new Dictionary<int, float>();
        if (body.Object("logit_bias") is not { } bias) return result;
        foreach (var (key, _) in bias.Properties())
        {
            if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || id >= vocabSize)
                throw ApiException.BadRequest($"logit_bias keys must be token ids in [0, {vocabSize}), not '{key}'", body.Path("logit_bias"));
            result[id] = bias.Float(key, -100, 100)!.Value;
        }
        return result;
    }
}
