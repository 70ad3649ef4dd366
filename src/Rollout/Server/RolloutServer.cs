using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Prometheus;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server.Http;
using Rollout.Server.OpenAi;
using Rollout.Server.Rl;
using Rollout.WeightSync.Channels.Ipc;

namespace Rollout.Server;

/// <summary>
/// <c>rollout serve</c>: one engine behind Kestrel with the OpenAI API, the RL endpoints, health,
/// readiness and Prometheus metrics. It binds its port only once the engine is up, so a client that
/// can connect can generate.
/// </summary>
public sealed class RolloutServer : IAsyncDisposable
{
    const int MaxRequestBufferBytes = 16 << 20;

    readonly WebApplication _app;
    readonly EngineHost _host;
    readonly IpcWeightListener? _ipc;

    RolloutServer(WebApplication app, EngineHost host, Uri address, IpcWeightListener? ipc)
    {
        _app = app;
        _host = host;
        Address = address;
        _ipc = ipc;
    }

    /// <summary>Where the server listens (the real port when 0 was asked for).</summary>
    public Uri Address { get; }

    /// <summary>The model name clients use.</summary>
    public string ModelName => _host.Name;

    /// <summary>The engine behind the endpoints.</summary>
    public LlmEngine Engine => _host.Engine;

    /// <summary>
    /// Starts an engine over <paramref name="model"/> (the server owns both from here on) and binds.
    /// </summary>
    /// <param name="model">A loaded causal language model.</param>
    /// <param name="engineOptions">The engine's batching and KV cache.</param>
    /// <param name="options">Address, secrets and limits.</param>
    /// <param name="configureLogging">Where logs go; structured JSON on the console when null.</param>
    /// <param name="cancellationToken">Cancels binding.</param>
    public static Task<RolloutServer> StartAsync(LoadedModel model, EngineOptions engineOptions, ServerOptions options,
        Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default) =>
        StartAsync(new ServedModels(model), engineOptions, options, configureLogging, cancellationToken);

    /// <summary>
    /// Starts an engine over each of <paramref name="models"/> (the server owns them from here on) and binds.
    /// </summary>
    /// <param name="models">The policy, and the reference and reward models when there are any.</param>
    /// <param name="engineOptions">Each engine's batching and KV cache.</param>
    /// <param name="options">Address, secrets and limits.</param>
    /// <param name="configureLogging">Where logs go; structured JSON on the console when null.</param>
    /// <param name="cancellationToken">Cancels binding.</param>
    /// <exception cref="ArgumentException">A model has the wrong head for its place (the models are disposed).</exception>
    public static async Task<RolloutServer> StartAsync(ServedModels models, EngineOptions engineOptions, ServerOptions options,
        Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        var endpoint = new IPEndPoint(ParseHost(options.Host), options.Port);
        string name = options.ServedModelName ?? Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(models.Policy.Source));
        EngineHost host;
        try
        {
            host = new EngineHost(models, engineOptions, name, options);
        }
        catch
        {
            models.Dispose();
            throw;
        }
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
                // Room for a weight update's frames to queue while they are staged: at the 1 MiB default
                // Kestrel stops reading the socket every few frames.
                kestrel.Limits.MaxRequestBufferSize = MaxRequestBufferBytes;
                kestrel.Listen(endpoint);
            });
            // The pool keeps as many free blocks as one queued request body fills.
            builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(new BlockMemoryPoolFactory(MaxRequestBufferBytes / BlockMemoryPool.BlockBytes));
            builder.Logging.ClearProviders();
            if (configureLogging is null) builder.Logging.AddJsonConsole(json => json.IncludeScopes = true);
            else configureLogging(builder.Logging);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownDeadline);
            var app = builder.Build();
            Configure(app, host, new BearerTokens(options.ApiKey, options.AdminToken));
            await app.StartAsync(cancellationToken);
            string bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
            // Stopping lets in-flight requests finish until the deadline; whatever still runs then is aborted.
            app.Lifetime.ApplicationStopping.Register(() => _ = Task.Delay(options.ShutdownDeadline).ContinueWith(_ => host.AbortAllAsync(), TaskScheduler.Default));
            var ipc = options.WeightsSocket is { } socket ? new IpcWeightListener(host.Weights, socket) : null;
            return new RolloutServer(app, host, new Uri(bound), ipc);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Returns when the server has been asked to stop (SIGTERM, Ctrl+C or <see cref="DisposeAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops accepting, lets in-flight requests finish until the shutdown deadline, then frees the engine and the model.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ipc is not null) await _ipc.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _host.Dispose();
    }

    static IPAddress ParseHost(string host) =>
        host == "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : throw new ArgumentException($"host must be an IP address or localhost, not '{host}'", nameof(host));

    static void Configure(WebApplication app, EngineHost host, BearerTokens tokens)
    {
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("rollout.server");
        app.Use(async (context, next) =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                string id = RequestIds.Of(context);
                context.Response.Headers[RequestIds.Header] = id;
                using (log.BeginScope(new Dictionary<string, object> { ["RequestId"] = id }))
                {
                    await next(context);
                    log.LogInformation("{Method} {Path} {Status} in {Milliseconds:F1} ms", context.Request.Method, context.Request.Path,
                        context.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
            catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is OperationCanceledException)
            {
                // The client went away: its engine requests were aborted with it.
            }
            catch (Exception e)
            {
                var error = e switch
                {
                    ApiException api => api,
                    BadHttpRequestException bad => new ApiException((HttpStatusCode)bad.StatusCode, bad.Message),
                    _ => new ApiException(HttpStatusCode.InternalServerError, $"internal error: {e.Message}", "internal_error"),
                };
                if ((int)error.Status >= 500) log.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
                else log.LogInformation("{Method} {Path} refused: {Status} {Message}", context.Request.Method, context.Request.Path, (int)error.Status, error.Message);
                if (!context.Response.HasStarted) await ErrorBody.WriteAsync(context, error);
            }
            finally
            {
                string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                host.Metrics.Request(route, context.Response.StatusCode);
            }
        });
        app.UseStatusCodePages(async status =>
        {
            var context = status.HttpContext;
            string message = context.Response.StatusCode switch
            {
                404 => $"no endpoint {context.Request.Path}",
                405 => $"{context.Request.Method} is not allowed on {context.Request.Path}",
                var code => $"HTTP {code}",
            };
            await ErrorBody.WriteAsync(context, new ApiException((HttpStatusCode)context.Response.StatusCode, message));
        });
        app.UseRouting();
        app.Use((context, next) =>
        {
            tokens.Check(context, context.GetEndpoint()?.Metadata.GetMetadata<AccessMetadata>()?.Access ?? Access.Public);
            return next(context);
        });

        app.MapGet("/health", () => Results.Ok()).WithMetadata(new AccessMetadata(Access.Public));
        app.MapGet("/ready", () => host.Engine.IsPaused ? Results.Json(new { ready = false, reason = "paused" }, statusCode: 503) : Results.Json(new { ready = true }))
            .WithMetadata(new AccessMetadata(Access.Public));
        app.MapMetrics("/metrics", host.Metrics.Registry).WithMetadata(new AccessMetadata(Access.Public));

        User(app.MapGet("/v1/models", () => Results.Json(ModelsEndpoint.Handle(host))));
        User(app.MapPost("/v1/completions", (HttpContext c) => CompletionsEndpoint.HandleAsync(c, host)));
        User(app.MapPost("/v1/chat/completions", (HttpContext c) => ChatCompletionsEndpoint.HandleAsync(c, host)));
        User(app.MapPost("/tokenize", Json(c => TokenizeEndpoints.TokenizeAsync(c, host))));
        User(app.MapPost("/detokenize", Json(c => TokenizeEndpoints.DetokenizeAsync(c, host))));
        User(app.MapPost("/rl/generate", (HttpContext c) => GenerateEndpoint.HandleAsync(c, host)));
        User(app.MapPost("/rl/score", (HttpContext c) => ScoreEndpoint.HandleAsync(c, host)));
        User(app.MapPost("/rl/reward", (HttpContext c) => RewardEndpoint.HandleAsync(c, host)));
        User(app.MapGet("/rl/weights/version", Json(c => WeightsEndpoints.VersionAsync(c, host))));

        Admin(app.MapPost("/rl/pause", Json(c => ControlEndpoints.PauseAsync(c, host))));
        Admin(app.MapPost("/rl/resume", Json(c => ControlEndpoints.ResumeAsync(c, host))));
        Admin(app.MapPost("/rl/abort", Json(c => ControlEndpoints.AbortAsync(c, host))));
        Admin(app.MapPost("/rl/weights", Json(c => WeightsEndpoints.PushAsync(c, host))));
        Admin(app.MapPost("/rl/weights/load", Json(c => WeightsEndpoints.LoadAsync(c, host))));
        Admin(app.MapPost("/rl/weights/nccl", (HttpContext c) => NcclWeightsEndpoint.ReceiveAsync(c, host)));
    }

    /// <summary>A handler whose answer is a JSON body (a plain <see cref="RequestDelegate"/> would drop a returned value).</summary>
    static RequestDelegate Json(Func<HttpContext, Task<object>> handler) =>
        async context => await context.Response.WriteAsJsonAsync(await handler(context), context.RequestAborted);

    static void User(IEndpointConventionBuilder endpoint) => endpoint.WithMetadata(new AccessMetadata(Access.User));

    static void Admin(IEndpointConventionBuilder endpoint) => endpoint.WithMetadata(new AccessMetadata(Access.Admin));

    sealed record AccessMetadata(Access Access);
}
