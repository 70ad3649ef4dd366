using System.Text.Json;

namespace Rollout.Tests.Server;

/// <summary>The error body OpenAI clients parse: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal static class OpenAiError
{
    /// <summary>Checks the status and the body's shape; returns the <c>error</c> object.</summary>
    public static async Task<JsonElement> AssertAsync(HttpResponseMessage response, int status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"the {status} body is not JSON ({e.Message}): {text}");
        }
        var error = root.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(p => p.Name));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), text);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()), text);
        Assert.True(error.GetProperty("param").ValueKind is JsonValueKind.String or JsonValueKind.Null, text);
        Assert.True(error.GetProperty("code").ValueKind is JsonValueKind.String or JsonValueKind.Null, text);
        return error;
    }
}
