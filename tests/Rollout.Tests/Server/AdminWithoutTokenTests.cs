using Rollout.Server;

namespace Rollout.Tests.Server;

/// <summary>A server started with neither an API key nor an admin token.</summary>
public sealed class OpenServerFixture : IAsyncLifetime
{
    public RolloutServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServerFixture.Start(new ServerOptions { Port = 0 });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Without an admin token the endpoints that pause, resume and abort are off for everyone (403), while the
/// user endpoints, with no API key set, are open.
/// </summary>
public class AdminWithoutTokenTests(OpenServerFixture fixture) : IClassFixture<OpenServerFixture>
{
    [Theory]
    [InlineData("/rl/pause", null)]
    [InlineData("/rl/pause", "any-token")]
    [InlineData("/rl/resume", null)]
    [InlineData("/rl/abort", "any-token")]
    [InlineData("/rl/weights/load", "any-token")]
    public async Task AdminEndpointsAreForbidden(string path, string? bearer)
    {
        using var client = ServerFixture.Client(fixture.Server, bearer);

        using var response = await client.PostAsync(path, ServerHttp.Json(new { all = true }));

        var error = await OpenAiError.AssertAsync(response, 403);
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.False(fixture.Server.Engine.IsPaused);
    }

    [Fact]
    public async Task UserEndpointsNeedNoKey()
    {
        using var client = ServerFixture.Client(fixture.Server, null);

        var response = await client.PostOkAsync("/v1/completions", new { prompt = "hello", max_tokens = 2 });

        Assert.Single(response.GetProperty("choices").EnumerateArray());
    }
}
