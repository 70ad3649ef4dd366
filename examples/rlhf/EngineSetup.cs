using System.Security.Cryptography;
using Rollout.Client;
using Rollout.Engine;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.Server;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Channels.Http;
using Rollout.WeightSync.Channels.Ipc;
using Rollout.WeightSync.Receiver;

namespace Rollout.Examples.Rlhf;

/// <summary>
/// The engine the loop generates with, reached through a rollout client, and the weight sender for the
/// chosen channel. Over HTTP the engine sits behind a <c>rollout serve</c> endpoint on 127.0.0.1 and the
/// client is remote; otherwise the engine runs in this process.
/// </summary>
internal sealed class EngineSetup : IAsyncDisposable
{
    // The server owns its model; an engine in this process leaves its model to us.
    readonly LoadedModel? _model;
    readonly LlmEngine? _engine;
    readonly IpcWeightListener? _listener;
    readonly RolloutServer? _server;

    EngineSetup(LoadedModel? model, LlmEngine? engine, RolloutServer? server, IpcWeightListener? listener, IRolloutClient client, IWeightSender sender)
    {
        _model = model;
        _engine = engine;
        _server = server;
        _listener = listener;
        Client = client;
        Sender = sender;
    }

    public IRolloutClient Client { get; }

    public IWeightSender Sender { get; }

    public static async Task<EngineSetup> StartAsync(string modelDirectory, WeightChannel channel, EngineOptions options, ModelOptions modelOptions)
    {
        var model = ModelLoader.Load(modelDirectory, modelOptions);
        if (channel == WeightChannel.Http)
        {
            string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            var server = await RolloutServer.StartAsync(model, options, new ServerOptions { Port = 0, AdminToken = token }, logging => { });
            return new EngineSetup(null, null, server, null, new RemoteRolloutClient([server.Address]), new HttpWeightSender(server.Address, token));
        }
        var engine = LlmEngine.Create(model, options);
        var receiver = new WeightReceiver(engine);
        if (channel == WeightChannel.Inproc)
            return new EngineSetup(model, engine, null, null, new LocalRolloutClient(engine), new InProcessWeightSender(receiver));
        string socket = Path.Combine(Path.GetTempPath(), $"rlhf-{Environment.ProcessId}.sock");
        var listener = new IpcWeightListener(receiver, socket);
        return new EngineSetup(model, engine, null, listener, new LocalRolloutClient(engine), new IpcWeightSender(socket));
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        if (_listener is not null) await _listener.DisposeAsync();
        if (_server is not null) await _server.DisposeAsync();
        _engine?.Dispose();
        _model?.Dispose();
    }
}
