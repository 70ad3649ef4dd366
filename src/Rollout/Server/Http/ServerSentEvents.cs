using System.Text.Json;

namespace Rollout.Server.Http;

/// <summary>An SSE response as OpenAI streams it: <c>data: {json}</c> events, then <c>data: [DONE]</c>.</summary>
internal sealed class ServerSentEvents(HttpResponse response)
{
    bool _started;

    public async Task WriteAsync<T>(T payload, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            _started = true;
        }
        await response.WriteAsync("data: " + JsonSerializer.Serialize(payload, ServerJson.Options) + "\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    public async Task DoneAsync(CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: [DONE]\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
