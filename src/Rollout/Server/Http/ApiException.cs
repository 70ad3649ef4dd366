using System.Net;

namespace Rollout.Server.Http;

/// <summary>
/// A request the server refuses: the status and the OpenAI-shaped error body
/// (<c>{"error": {"message", "type", "param", "code"}}</c>) the client gets.
/// </summary>
public sealed class ApiException(HttpStatusCode status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    /// <summary>The HTTP status.</summary>
    public HttpStatusCode Status { get; } = status;

    /// <summary>OpenAI's error type, e.g. <c>invalid_request_error</c>.</summary>
    public string Type { get; } = type;

    /// <summary>The request field at fault, if one is.</summary>
    public string? Param { get; } = param;

    /// <summary>A machine-readable code, if any.</summary>
    public string? Code { get; } = code;

    /// <summary>400: a field is missing, of the wrong type or out of range.</summary>
    public static ApiException BadRequest(string message, string? param = null) => new(HttpStatusCode.BadRequest, message, param: param);

    /// <summary>400 for the field <paramref name="param"/>, which the engine refused with <paramref name="refusal"/>.</summary>
    public static ApiException BadRequest(ArgumentException refusal, string param) =>
        BadRequest($"{param}: {refusal.Message.Split(" (Parameter")[0]}", param);
}
