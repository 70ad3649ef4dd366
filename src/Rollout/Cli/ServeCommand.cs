using System.CommandLine;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server;

namespace Rollout.Cli;

/// <summary><c>rollout serve</c>: the OpenAI API and the RL endpoints over the policy's engine, with reference and reward models beside it when asked for.</summary>
internal static class ServeCommand
{
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "DIR|FILE.gguf", "a Hugging Face model directory or a GGUF file", required: true);
        var referenceModel = CliOptions.Text("--reference-model", "DIR|FILE.gguf", "a causal LM /rl/score scores with when asked for \"model\": \"reference\"");
        var rewardModel = CliOptions.Text("--reward-model", "DIR", "a sequence-classification model (num_labels = 1) /rl/reward scores with");
        var host = CliOptions.Text("--host", "ADDRESS", "address to bind (default 127.0.0.1: loopback only)");
        var port = CliOptions.Integer("--port", "PORT", "port to bind; 0 takes a free one (default 8000)", 8000, min: 0);
        var apiKey = CliOptions.Text("--api-key", "KEY", "bearer key the user endpoints require (also ROLLOUT_API_KEY)");
        var adminToken = CliOptions.Text("--admin-token", "TOKEN", "bearer token the admin endpoints require; they are off without one (also ROLLOUT_ADMIN_TOKEN)");
        var servedName = CliOptions.Text("--served-model-name", "NAME", "the model name clients send (default: the model's folder or file name)");
        var kvBytes = CliOptions.Integer<long>("--kv-cache-bytes", "N", "KV cache size in bytes (default: 30% of free memory)", 0, min: 1);
        var maxSeqs = CliOptions.Integer("--max-num-seqs", "N", "most sequences in one engine step", new EngineOptions().MaxNumSequences, min: 1);
        var maxLen = CliOptions.Integer("--max-model-len", "N", "longest prompt + completion (default: the model's context)", 0, min: 2);
        var weightsSocket = CliOptions.Text("--weights-socket", "PATH", "a Unix domain socket for weight updates from trainers on this host (shared memory)");
        var maxRequestSeqs = CliOptions.Integer("--max-request-seqs", "N", "most completions one request may ask for (prompts x n)", new ServerOptions().MaxRequestSequences, min: 1);
        var placement = new ModelPlacementOptions();
        var speculation = new SpeculationCliOptions();
        var command = new Command("serve", "Serves a model over HTTP: the OpenAI API, the RL endpoints, /health, /ready and /metrics.")
        {
            model, referenceModel, rewardModel, host, port, apiKey, adminToken, servedName, kvBytes, maxSeqs, maxLen, maxRequestSeqs, weightsSocket,
        };
        placement.AddTo(command);
        speculation.AddTo(command);
        command.SetAction(result =>
        {
            var options = new ServerOptions
            {
                Host = result.GetValue(host) ?? "127.0.0.1",
                Port = result.GetValue(port),
                ApiKey = result.GetValue(apiKey) ?? NonEmpty(Environment.GetEnvironmentVariable("ROLLOUT_API_KEY")),
                AdminToken = result.GetValue(adminToken) ?? NonEmpty(Environment.GetEnvironmentVariable("ROLLOUT_ADMIN_TOKEN")),
                ServedModelName = result.GetValue(servedName),
                MaxRequestSequences = result.GetValue(maxRequestSeqs),
                WeightsSocket = result.GetValue(weightsSocket),
            };
            if (options.Host != "localhost" && !System.Net.IPAddress.TryParse(options.Host, out _))
                throw new UsageException($"--host must be an IP address or localhost, not '{options.Host}'");
            if (options.Port > 65535) throw new UsageException($"--port must be in [0, 65535], not {options.Port}");
            var engineOptions = new EngineOptions
            {
                KvCacheBytes = result.GetValue(kvBytes) is > 0 and var bytes ? bytes : null,
                MaxNumSequences = result.GetValue(maxSeqs),
                MaxModelLength = result.GetValue(maxLen) is > 0 and var length ? length : null,
            };
            var paths = new ModelPaths(result.GetRequiredValue(model), result.GetValue(referenceModel), result.GetValue(rewardModel), speculation.Validate(result));
            return Run(paths, placement.Read(result), engineOptions, served => speculation.Read(result, served.Draft), options, result.InvocationConfiguration.Output);
        });
        return command;
    }

    /// <summary>Loads every model asked for; none stays loaded when one fails.</summary>
    static ServedModels Load(ModelPaths paths, Models.ModelOptions modelOptions)
    {
        var loaded = new List<LoadedModel>();
        LoadedModel? LoadOptional(string? path) => path is null ? null : LoadOne(path);
        LoadedModel LoadOne(string path)
        {
            var model = ModelLoader.Load(path, modelOptions);
            loaded.Add(model);
            return model;
        }
        try
        {
            return new ServedModels(LoadOne(paths.Policy))
            {
                Reference = LoadOptional(paths.Reference), Reward = LoadOptional(paths.Reward), Draft = LoadOptional(paths.Draft),
            };
        }
        catch
        {
            foreach (var model in loaded) model.Dispose();
            throw;
        }
    }

    sealed record ModelPaths(string Policy, string? Reference, string? Reward, string? Draft);

    static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    static int Run(ModelPaths paths, Models.ModelOptions modelOptions, EngineOptions engineOptions, Func<ServedModels, SpeculativeOptions?> speculation,
        ServerOptions options, TextWriter output)
    {
        var served = Load(paths, modelOptions);
        try
        {
            engineOptions = engineOptions with { Speculation = speculation(served) };
        }
        catch
        {
            served.Dispose();
            throw;
        }
        // From here the server owns the models, and disposes them if it fails to start.
        var server = RolloutServer.StartAsync(served, engineOptions, options).GetAwaiter().GetResult();
        output.WriteLine($"serving {server.ModelName} on {server.Address.ToString().TrimEnd('/')}");
        output.Flush();
        server.WaitForShutdownAsync().GetAwaiter().GetResult();
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }
}
