using System.Text.Json.Serialization;

namespace Rollout.Server.OpenAi;

/// <summary>Token counts of a request, as OpenAI reports them.</summary>
internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    public static Usage Of(int prompt, int completion) => new(prompt, completion, prompt + completion);
}

/// <summary>A <c>/v1/completions</c> body, whole or one streamed chunk.</summary>
internal sealed record CompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage);

/// <summary>
/// One choice of a completion: OpenAI's fields, vLLM's <c>stop_reason</c> and <c>prompt_token_ids</c>/<c>token_ids</c>
/// (with <c>return_token_ids</c>), and the weight version of every token.
/// </summary>
internal sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public object? StopReason { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<int>? PromptTokenIds { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<int>? TokenIds { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? WeightVersion { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<long>? WeightVersions { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<Dictionary<string, PromptTokenLogprob>?>? PromptLogprobs { get; init; }
}

/// <summary>The legacy completions logprobs: parallel lists per token.</summary>
internal sealed record CompletionLogprobs(
    IReadOnlyList<string> Tokens, IReadOnlyList<float> TokenLogprobs, IReadOnlyList<Dictionary<string, float>>? TopLogprobs, IReadOnlyList<int> TextOffset);

/// <summary>A <c>/v1/chat/completions</c> body, whole or one streamed chunk.</summary>
internal sealed record ChatResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage);

/// <summary>One chat choice: a whole <c>message</c>, or a streamed <c>delta</c>.</summary>
internal sealed record ChatChoice(int Index, ChatLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ChatMessageBody? Message { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ChatMessageBody? Delta { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public object? StopReason { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<int>? PromptTokenIds { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<int>? TokenIds { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? WeightVersion { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<long>? WeightVersions { get; init; }
}

/// <summary>An assistant message or delta.</summary>
internal sealed record ChatMessageBody(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);

/// <summary>Chat logprobs: one entry per token.</summary>
internal sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content);

/// <summary>A token, its logprob and bytes, and its alternatives.</summary>
internal sealed record ChatTokenLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs);

/// <summary>One alternative at a position.</summary>
internal sealed record ChatTopLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes);

/// <summary>One entry of vLLM's <c>prompt_logprobs</c>: a token's logprob at a prompt position and its text.</summary>
internal sealed record PromptTokenLogprob(float Logprob, string DecodedToken);
