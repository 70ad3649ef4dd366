using System.Net;

namespace Rollout.Client;

/// <summary>A <c>rollout serve</c> engine refused or failed a request: its status and its own message.</summary>
public sealed class RolloutServerException : Exception
{
    /// <summary>Wraps the server's answer to a request to <paramref name="endpoint"/>.</summary>
    public RolloutServerException(Uri endpoint, HttpStatusCode status, string serverMessage, string? param = null, string? code = null)
        : base($"{endpoint} answered {(int)status} {status}: {serverMessage}")
    {
        Endpoint = endpoint;
        Status = status;
        ServerMessage = serverMessage;
        Param = param;
        Code = code;
    }

    /// <summary>The URL the request went to.</summary>
    public Uri Endpoint { get; }

    /// <summary>The HTTP status the server answered.</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The server's error message, as it wrote it.</summary>
    public string ServerMessage { get; }

    /// <summary>The request field the server blamed, if it named one.</summary>
    public string? Param { get; }

    /// <summary>The server's error code (<c>model_not_found</c>, ...), if it gave one.</summary>
    public string? Code { get; }
}
