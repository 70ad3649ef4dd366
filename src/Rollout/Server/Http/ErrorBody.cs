using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rollout.Server.Http;

/// <summary>The error body every refusal carries, as OpenAI writes it.</summary>
internal static class ErrorBody
{
    public static Task WriteAsync(HttpContext context, ApiException error)
    {
        context.Response.StatusCode = (int)error.Status;
        context.Response.ContentType = "application/json";
        var body = new Envelope(new Detail(error.Message, error.Type, error.Param, error.Code));
        return context.Response.WriteAsync(JsonSerializer.Serialize(body), context.RequestAborted);
    }

    sealed record Envelope([property: JsonPropertyName("error")] Detail Error);

    sealed record Detail(
        [property: JsonPropertyName("message")] string Message,
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("param")] string? Param,
        [property: JsonPropertyName("code")] string? Code);
}
