using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Rollout.Server.Http;

/// <summary>Who may call an endpoint: anyone, holders of the API key, or holders of the admin token.</summary>
internal enum Access { Public, User, Admin }

/// <summary>
/// The two bearer secrets: the API key on user endpoints (when one is set) and the admin token on
/// everything that pauses, resumes, aborts or changes weights (refused outright while none is set; the
/// API key never opens them). Each endpoint names its <see cref="Access"/> in its metadata; compared in
/// constant time.
/// </summary>
internal sealed class BearerTokens(string? apiKey, string? adminToken)
{
    // Hashes, so the constant-time compare does not leak the secrets' lengths either.
    readonly byte[]? _apiKey = apiKey is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));
    readonly byte[]? _adminToken = adminToken is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(adminToken));

    /// <summary>Throws the 401 or 403 a request without the right secret gets.</summary>
    public void Check(HttpContext context, Access access)
    {
        switch (access)
        {
            case Access.User when _apiKey is not null:
                var sent = Sent(context);
                if (sent is null || !(Matches(sent, _apiKey) || (_adminToken is not null && Matches(sent, _adminToken))))
                    throw new ApiException(HttpStatusCode.Unauthorized, "a valid API key is required: send Authorization: Bearer KEY",
                        "authentication_error", code: "invalid_api_key");
                break;
            case Access.Admin when _adminToken is null:
                throw new ApiException(HttpStatusCode.Forbidden, "admin endpoints are off: start the server with --admin-token or ROLLOUT_ADMIN_TOKEN",
                    "permission_error");
            case Access.Admin:
                var token = Sent(context);
                if (token is null || !Matches(token, _adminToken!))
                    throw new ApiException(HttpStatusCode.Unauthorized, "the admin token is required: send Authorization: Bearer TOKEN",
                        "authentication_error", code: "invalid_admin_token");
                break;
        }
    }

    static byte[]? Sent(HttpContext context)
    {
        string? header = context.Request.Headers.Authorization.FirstOrDefault();
        return header is not null && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()))
            : null;
    }

    static bool Matches(byte[] sent, byte[] secret) => CryptographicOperations.FixedTimeEquals(sent, secret);
}
