using System.Text.Json;
using Rollout.Engine;
using Rollout.Server.Http;

namespace Rollout.Server.Rl;

/// <summary>
/// <c>/rl/pause</c>, <c>/rl/resume</c> (both idempotent) and <c>/rl/abort</c>:
/// what a training loop does to the engine between rollouts.
/// </summary>
internal static class ControlEndpoints
{
    public static async Task<object> PauseAsync(HttpContext context, EngineHost host)
    {
        var mode = PauseMode.Wait;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            var body = await RequestBody.ReadAsync(context.Request, context.RequestAborted);
            mode = body.String("mode") switch
            {
                null or "wait" => PauseMode.Wait,
                "abort" => PauseMode.Abort,
                "keep" => PauseMode.Keep,
                var other => throw ApiException.BadRequest($"mode must be wait, abort or keep, not '{other}'", "mode"),
            };
        }
        await host.Engine.PauseAsync(mode).WaitAsync(context.RequestAborted);
        return new { paused = true, mode = mode.ToString().ToLowerInvariant() };
    }

    public static async Task<object> ResumeAsync(HttpContext context, EngineHost host)
    {
        host.Engine.Resume();
        // Resume only queues the command; a no-op queued behind it returns once the engine has run it,
        // so a client that reads /ready (or IsPaused) after this answer sees the engine running.
        await host.Engine.RunAtStepBoundaryAsync(_ => true).WaitAsync(context.RequestAborted);
        return new { paused = false };
    }

    public static async Task<object> AbortAsync(HttpContext context, EngineHost host)
    {
        var body = await RequestBody.ReadAsync(context.Request, context.RequestAborted);
        if (body.Bool("all") == true) return new { aborted = await host.Engine.AbortAllAsync() };
        if (body.Raw("request_ids") is not { } ids || ids.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest("send {\"request_ids\": [...]} or {\"all\": true}", "request_ids");
        var names = ids.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String ? e.GetString()!
            : throw ApiException.BadRequest($"request_ids[{i}] must be a string", $"request_ids[{i}]")).ToArray();
        return new { aborted = host.Abort(names) };
    }
}
