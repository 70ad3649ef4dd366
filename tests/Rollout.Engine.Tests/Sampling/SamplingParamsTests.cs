using Rollout.Engine.Sampling;

namespace Rollout.Engine.Tests.Sampling;

public class SamplingParamsTests
{
    const int Vocab = 100;

    public static TheoryData<SamplingParams, string> InvalidParams => new()
    {
        { new() { N = 0 }, "n" },
        { new() { Temperature = -0.1f }, "temperature" },
        { new() { Temperature = float.NaN }, "temperature" },
        { new() { Temperature = float.PositiveInfinity }, "temperature" },
        { new() { TopK = -2 }, "top_k" },
        { new() { TopP = 0 }, "top_p" },
        { new() { TopP = 1.5f }, "top_p" },
        { new() { TopP = float.NaN }, "top_p" },
        { new() { MinP = -0.1f }, "min_p" },
        { new() { MinP = 1.1f }, "min_p" },
        { new() { MinP = float.NaN }, "min_p" },
        { new() { RepetitionPenalty = 0 }, "repetition_penalty" },
        { new() { RepetitionPenalty = float.NaN }, "repetition_penalty" },
        { new() { PresencePenalty = 2.5f }, "presence_penalty" },
        { new() { PresencePenalty = float.NaN }, "presence_penalty" },
        { new() { FrequencyPenalty = -3 }, "frequency_penalty" },
        { new() { LogitBias = new Dictionary<int, float> { [Vocab] = 1 } }, "logit_bias" },
        { new() { LogitBias = new Dictionary<int, float> { [-1] = 1 } }, "logit_bias" },
        { new() { LogitBias = new Dictionary<int, float> { [0] = 101 } }, "logit_bias" },
        { new() { LogitBias = new Dictionary<int, float> { [0] = float.NaN } }, "logit_bias" },
        { new() { StopTokenIds = [Vocab] }, "stop_token_ids" },
        { new() { Stop = ["ok", ""] }, "stop" },
        { new() { MaxTokens = 0 }, "max_tokens" },
        { new() { MinTokens = -1 }, "min_tokens" },
        { new() { MinTokens = 5, MaxTokens = 4 }, "min_tokens" },
        { new() { Logprobs = 21 }, "logprobs" },
        { new() { Logprobs = -1 }, "logprobs" },
        { new() { PromptLogprobs = 21 }, "prompt_logprobs" },
        { new() { LogprobsMode = (LogprobsMode)7 }, "logprobs_mode" },
    };

    [Theory]
    [MemberData(nameof(InvalidParams))]
    public void EachInvalidValueIsRejectedNamingTheParameter(SamplingParams p, string name)
    {
        var error = Assert.Throws<InvalidSamplingParametersException>(() => p.Validate(Vocab));
        Assert.Equal(name, error.ParameterName);
        Assert.StartsWith(name + " ", error.Message);
        Assert.Contains(", got ", error.Message);
    }

    [Fact]
    public void TheMessageGivesTheRangeAndTheValue()
    {
        var error = Assert.Throws<InvalidSamplingParametersException>(() => new SamplingParams { TopP = 1.5f }.Validate(Vocab));
        Assert.Equal("top_p must be in (0, 1], got 1.5", error.Message);
    }

    [Fact]
    public void DefaultsAndEdgesOfEveryRangeAreValid()
    {
        new SamplingParams().Validate(Vocab);
        new SamplingParams
        {
            N = 8, Temperature = 0, TopK = -1, TopP = 1, MinP = 1, RepetitionPenalty = 0.01f, PresencePenalty = -2, FrequencyPenalty = 2,
            LogitBias = new Dictionary<int, float> { [0] = -100, [Vocab - 1] = 100 }, Seed = long.MinValue, StopTokenIds = [0, Vocab - 1],
            Stop = ["\n"], MaxTokens = 1, MinTokens = 1, Logprobs = 20, PromptLogprobs = 0, LogprobsMode = LogprobsMode.Processed,
        }.Validate(Vocab);
    }
}
