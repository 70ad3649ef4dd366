namespace Rollout.Server.Http;

/// <summary>
/// The id of an HTTP request: the client's <c>X-Request-Id</c> when it sends one (then it also names
/// the request in <c>/rl/abort</c>), else one made here. Logs carry it on every line.
/// </summary>
internal static class RequestIds
{
    public const string Header = "X-Request-Id";
    const int MaxLength = 128;

    public static string Of(HttpContext context)
    {
        if (context.Items.TryGetValue(Header, out var known)) return (string)known!;
        string id = context.Request.Headers[Header].FirstOrDefault() is { Length: > 0 } sent ? sent : Guid.NewGuid().ToString("N");
        if (id.Length > MaxLength || id.Any(ch => char.IsControl(ch) || ch == '/'))
            throw ApiException.BadRequest($"{Header} must be at most {MaxLength} printable characters without '/'", Header);
        context.Items[Header] = id;
        return id;
    }
}
