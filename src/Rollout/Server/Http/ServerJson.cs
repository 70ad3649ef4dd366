using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rollout.Server.Http;

/// <summary>JSON settings of every response body: snake_case names as OpenAI and vLLM write them.</summary>
internal static class ServerJson
{
    /// <summary>
    /// Nulls are written (OpenAI's bodies carry <c>"logprobs": null</c>); extension fields that may be absent opt
    /// out one by one. A logprob of a token processing filtered out is <c>"-Infinity"</c>, JSON having no such number.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Deepest nesting a request body may have: no endpoint needs more, and deeper input only costs.</summary>
    public const int MaxDepth = 16;
}
