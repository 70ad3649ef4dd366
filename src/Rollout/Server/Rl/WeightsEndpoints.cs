using System.Net;
using Rollout.Server.Http;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Channels.Http;

namespace Rollout.Server.Rl;

/// <summary>
/// Weight updates over HTTP (admin token): <c>POST /rl/weights</c> takes a frame stream
/// (docs/weight-sync.md), <c>POST /rl/weights/load</c> a safetensors checkpoint on the server's disk;
/// <c>GET /rl/weights/version</c> (API key) says what is served.
/// </summary>
internal static class WeightsEndpoints
{
    public static async Task<object> PushAsync(HttpContext context, EngineHost host)
    {
        if (!string.Equals(context.Request.ContentType, HttpWeightSender.ContentType, StringComparison.OrdinalIgnoreCase))
            throw new ApiException(HttpStatusCode.UnsupportedMediaType, $"send the update as {HttpWeightSender.ContentType} frames (docs/weight-sync.md)");
        // An update is as large as the model: this endpoint alone lifts the body limit.
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
        var result = await Refusals(() => WeightStreamReader.ReceiveAsync(context.Request.BodyReader, host.Weights, context.RequestAborted));
        return Answer(result);
    }

    public static async Task<object> LoadAsync(HttpContext context, EngineHost host)
    {
        var body = await RequestBody.ReadAsync(context.Request, context.RequestAborted);
        string path = body.String("path") ?? throw ApiException.BadRequest("path (a safetensors file or directory on the server) is required", "path");
        var options = new PushOptions
        {
            Version = body.Long("version", 1),
            Partial = body.Bool("partial") ?? false,
            InFlight = Policy(body.String("in_flight")),
        };
        var result = await Refusals(async () =>
        {
            using var weights = SafetensorsWeights.Open(path);
            return await new InProcessWeightSender(host.Weights).PushAsync(weights.Tensors, options, cancellationToken: context.RequestAborted);
        });
        return Answer(result);
    }

    public static async Task<object> VersionAsync(HttpContext context, EngineHost host)
    {
        var (version, sha256) = await host.Weights.CurrentAsync(context.RequestAborted);
        return new { version, sha256, dtype = host.Weights.DType.ToString().ToLowerInvariant(), update_in_progress = host.Weights.UpdateInProgress };
    }

    static InFlightPolicy Policy(string? name) => name switch
    {
        null or "wait" => InFlightPolicy.Wait,
        "abort" => InFlightPolicy.Abort,
        "keep" => InFlightPolicy.Keep,
        "recompute" => InFlightPolicy.Recompute,
        _ => throw ApiException.BadRequest($"in_flight must be wait, abort, keep or recompute, not '{name}'", "in_flight"),
    };

    static object Answer(CommitResult r) => new { version = r.Version, sha256 = r.Sha256, updated_sha256 = r.UpdatedSha256, bytes = r.Bytes, seconds = r.Seconds, staged_seconds = r.StagedSeconds };

    static async Task<CommitResult> Refusals(Func<Task<CommitResult>> update)
    {
        try
        {
            return await update();
        }
        catch (WeightUpdateException e)
        {
            throw new ApiException(e is WeightUpdateBusyException ? HttpStatusCode.Conflict : HttpStatusCode.BadRequest, e.Message, param: "weights");
        }
    }
}
