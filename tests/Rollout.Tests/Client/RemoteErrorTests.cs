using System.Net;
using Rollout.Client;
using Rollout.Engine.Sampling;
using Rollout.Tests.Server;

namespace Rollout.Tests.Client;

/// <summary>What a remote client refuses itself, before sending anything, and what it makes of a server's refusal.</summary>
[Collection(RemoteEnginesCollection.Name)]
public sealed class RemoteErrorTests(RemoteEnginesFixture engines)
{
    static readonly SamplingParams Short = new() { MaxTokens = 4, Seed = 2 };

    [Fact]
    public async Task A_wrong_api_key_is_the_servers_401_with_its_message()
    {
        await using var client = engines.Remote(new RemoteRolloutOptions { ApiKey = "wrong" });

        var refused = await Assert.ThrowsAsync<RolloutServerException>(() => client.GenerateAsync([[1, 2, 3]], 2, Short));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.False(string.IsNullOrWhiteSpace(refused.ServerMessage));
        Assert.Contains(refused.ServerMessage, refused.Message);
        Assert.EndsWith("/rl/generate", refused.Endpoint.AbsolutePath);
    }

    [Fact]
    public async Task What_only_the_server_can_check_is_its_400_naming_the_field()
    {
        await using var client = engines.Remote();
        int context = engines.Local.MaxModelLength;

        var refused = await Assert.ThrowsAsync<RolloutServerException>(() => client.GenerateAsync([[1, 2, 3]], 2, Short with { MaxTokens = context }));

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("sampling.max_tokens", refused.Param);
        Assert.Contains("max_tokens", refused.ServerMessage);
    }

    [Fact]
    public async Task Tokens_outside_the_vocabulary_are_refused_before_anything_is_sent()
    {
        await using var client = engines.Remote();
        double before = await GenerateRequestsAsync();

        var refused = Assert.Throws<ArgumentException>(() => client.StreamAsync([[1, 2], [3, engines.VocabSize]], 2, Short));
        Assert.StartsWith("prompts[1]: ", refused.Message);
        Assert.Throws<ArgumentException>(() => client.StreamAsync([[1, 2], [-1]], 2, Short));
        Assert.Throws<ArgumentOutOfRangeException>(() => client.StreamAsync([[1, 2]], 0, Short));
        Assert.Throws<ArgumentException>(() => client.StreamAsync([], 2, Short));

        Assert.Equal(before, await GenerateRequestsAsync());
    }

    /// <summary>The /rl/generate requests both servers have had, whatever their answer.</summary>
    async Task<double> GenerateRequestsAsync()
    {
        double total = 0;
        for (int i = 0; i < engines.Servers.Length; i++)
            total += (await engines.Admin(i).MetricsAsync()).Samples
                .Where(s => s.Name == "rollout_http_requests_total" && s.Labels.TryGetValue("endpoint", out var e) && e.Contains("/rl/generate"))
                .Sum(s => s.Value);
        return total;
    }
}
