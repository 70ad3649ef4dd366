using MessagePack;
using Rollout.Server.Http;

namespace Rollout.Server.Rl;

/// <summary>How the RL endpoints answer: in MessagePack when the request came in MessagePack, else in JSON.</summary>
internal static class RlEncoding
{
    public const string MessagePackType = "application/x-msgpack";

    /// <summary>Writes <paramref name="value"/> as the whole response body.</summary>
    public static async Task WriteAsync<T>(HttpContext context, T value, bool messagePack, CancellationToken ct)
    {
        if (messagePack)
        {
            context.Response.ContentType = MessagePackType;
            await context.Response.Body.WriteAsync(MessagePackSerializer.Serialize(value, cancellationToken: ct), ct);
        }
        else
        {
            await context.Response.WriteAsJsonAsync(value, ServerJson.Options, ct);
        }
    }
}
