using Rollout.Client;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server;
using Rollout.Tests.Server;

namespace Rollout.Tests.Client;

/// <summary>
/// Two <c>rollout serve</c> engines (Kestrel on loopback) over the tiny Qwen3 model, and an engine in
/// this process over its own load of the same model: what a remote and a local client run on.
/// </summary>
public sealed class RemoteEnginesFixture : IAsyncLifetime
{
    public const string ApiKey = "client-test-key";
    public const string AdminToken = "client-test-admin";

    readonly LoadedModel _model = ModelLoader.Load(ServerFixture.ModelDirectory);
    HttpClient[] _admins = [];

    public RolloutServer[] Servers { get; private set; } = [];
    public LlmEngine Local { get; private set; } = null!;
    public int VocabSize => _model.Config.VocabSize;

    /// <summary>Sends the admin token to server <c>i</c> (for /metrics and the control endpoints).</summary>
    public HttpClient Admin(int i) => _admins[i];

    /// <summary>The model's tokenizer, as the local engine uses it.</summary>
    public Rollout.Models.Tokenization.ITextTokenizer? Tokenizer => _model.Tokenizer;

    public async Task InitializeAsync()
    {
        Local = LlmEngine.Create(_model, new EngineOptions { KvCacheBytes = 8 << 20 });
        Servers = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => ServerFixture.Start(new ServerOptions { Port = 0, ApiKey = ApiKey, AdminToken = AdminToken })));
        _admins = [.. Servers.Select(s => ServerFixture.Client(s, AdminToken))];
    }

    public async Task DisposeAsync()
    {
        foreach (var admin in _admins) admin.Dispose();
        foreach (var server in Servers) await server.DisposeAsync();
        Local.Dispose();
        _model.Dispose();
    }

    public RemoteRolloutClient Remote(RemoteRolloutOptions? options = null) =>
        new([.. Servers.Select(s => s.Address)], options ?? new RemoteRolloutOptions
        {
            ApiKey = ApiKey, AdminToken = AdminToken, VocabSize = VocabSize, Tokenizer = _model.Tokenizer,
        });
}

/// <summary>The classes that share <see cref="RemoteEnginesFixture"/>, one after another, so that each sees the engines idle when it starts.</summary>
[CollectionDefinition(Name)]
public sealed class RemoteEnginesCollection : ICollectionFixture<RemoteEnginesFixture>
{
    public const string Name = "rollout client engines";
}
