using System.Net.Http.Headers;
using System.Text.Json;
using MessagePack;
using MessagePack.Resolvers;

namespace Rollout.Client.Engines;

/// <summary>What every request to a <c>rollout serve</c> engine shares: MessagePack bodies, the bearer secret, and errors read into <see cref="RolloutServerException"/>.</summary>
internal static class RemoteHttp
{
    public const string MessagePackType = "application/x-msgpack";

    // The client's request shapes are internal; the server's answers (Rollout.Server.Rl) are public.
    public static readonly MessagePackSerializerOptions MessagePack = MessagePackSerializerOptions.Standard.WithResolver(StandardResolverAllowPrivate.Instance);

    /// <summary>A POST of <paramref name="body"/> as MessagePack, with <paramref name="bearer"/> when there is one.</summary>
    public static HttpRequestMessage Post<T>(Uri url, T body, string? bearer)
    {
        var content = new ByteArrayContent(MessagePackSerializer.Serialize(body, MessagePack));
        content.Headers.ContentType = new MediaTypeHeaderValue(MessagePackType);
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    /// <summary>Throws <see cref="RolloutServerException"/> with the server's message when <paramref name="response"/> is not a success.</summary>
    public static async Task ThrowIfFailedAsync(HttpResponseMessage response, Uri url, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        var (message, param, code) = ErrorFields(text);
        throw new RolloutServerException(url, response.StatusCode, message, param, code);
    }

    /// <summary>The fields of OpenAI's error body, which every refusal of the server carries; the raw text when the body is something else.</summary>
    static (string Message, string? Param, string? Code) ErrorFields(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                return (message.GetString()!, StringOrNull(error, "param"), StringOrNull(error, "code"));
        }
        catch (JsonException)
        {
            // Not the server's own error body (a proxy's page, say): its text is the best message there is.
        }
        return (text.Length == 0 ? "(no body)" : text, null, null);
    }

    static string? StringOrNull(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
