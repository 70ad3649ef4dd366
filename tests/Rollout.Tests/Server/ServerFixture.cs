using System.Net.Http.Headers;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server;
using Rollout.TestSupport;

namespace Rollout.Tests.Server;

/// <summary>
/// One real server (Kestrel on a free loopback port) over the tiny Qwen3 model, shared by every class in
/// <see cref="ServerCollection"/>. Its limits are set low so the limit tests need no huge requests.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ApiKey = "test-api-key";
    public const string AdminToken = "test-admin-token";
    public const int MaxRequestSequences = 8;
    public const long MaxRequestBodyBytes = 1 << 20;

    public static string ModelDirectory => TinyModels.Directory("Qwen3ForCausalLM");

    public RolloutServer Server { get; private set; } = null!;

    /// <summary>Sends the API key.</summary>
    public HttpClient User { get; private set; } = null!;

    /// <summary>Sends the admin token.</summary>
    public HttpClient Admin { get; private set; } = null!;

    /// <summary>Sends no secret.</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    public string Model => Server.ModelName;

    public async Task InitializeAsync()
    {
        Server = await Start(new ServerOptions
        {
            Port = 0,
            ApiKey = ApiKey,
            AdminToken = AdminToken,
            MaxRequestSequences = MaxRequestSequences,
            MaxRequestBodyBytes = MaxRequestBodyBytes,
        });
        User = Client(Server, ApiKey);
        Admin = Client(Server, AdminToken);
        Anonymous = Client(Server, null);
    }

    public async Task DisposeAsync()
    {
        User.Dispose();
        Admin.Dispose();
        Anonymous.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>A server over its own load of the tiny model (the server disposes what it is given).</summary>
    public static Task<RolloutServer> Start(ServerOptions options) =>
        RolloutServer.StartAsync(ModelLoader.Load(ModelDirectory), new EngineOptions { KvCacheBytes = 8 << 20 }, options, configureLogging: _ => { });

    public static HttpClient Client(RolloutServer server, string? bearer)
    {
        var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        if (bearer is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }
}

/// <summary>
/// The classes that share <see cref="ServerFixture"/>. They run one after another, which the pause, metrics
/// and KV-accounting tests rely on: nothing else generates on the engine while they look at it.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "rollout server";
}
