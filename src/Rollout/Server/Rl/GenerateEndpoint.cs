using System.Text.Json;
using MessagePack;
using Rollout.Engine;
using Rollout.Server.Http;

namespace Rollout.Server.Rl;

/// <summary>
/// <c>POST /rl/generate</c>: token ids in; token ids, per-token logprobs, weight versions and (when asked) sampling supports out, one
/// result per prompt. JSON or MessagePack (<c>application/x-msgpack</c>), answered in the encoding it
/// came in; with <c>stream: true</c> each completion is sent as it finishes (JSON lines, or one
/// MessagePack map after another).
/// </summary>
internal static class GenerateEndpoint
{
    public static async Task HandleAsync(HttpContext context, EngineHost host)
    {
        var ct = context.RequestAborted;
        var body = await RequestBody.ReadAsync(context.Request, ct);
        host.CheckModel(body, required: false);
        if (body.Raw("prompts") is not { } list) throw ApiException.BadRequest("prompts is required: a list of token-id lists", "prompts");
        if (list.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("prompts must be a list of token-id lists", "prompts");
        if (list.GetArrayLength() == 0) throw ApiException.BadRequest("prompts is empty", "prompts");
        var prompts = list.EnumerateArray().Select((p, i) => (IReadOnlyList<int>)RequestBody.IntArray(p, $"prompts[{i}]", 0, host.VocabSize - 1)).ToArray();
        var samplingBody = body.Object("sampling");
        var sampling = samplingBody is null ? new Engine.Sampling.SamplingParams() : SamplingFields.Read(samplingBody, LogprobsStyle.Count, host.VocabSize, reportsSupport: true);
        var perPrompt = prompts.Select(p => sampling.MaxTokens is null ? sampling with { MaxTokens = Math.Max(1, host.MaxModelLength - p.Count) } : sampling).ToArray();
        bool stream = body.Bool("stream") ?? false;

        using var group = host.Start(RequestIds.Of(context), prompts, perPrompt, ct, promptParam: i => $"prompts[{i}]", samplingPrefix: "sampling.");
        if (!stream)
        {
            var finals = await group.FinalsAsync();
            var response = new RlGenerateResponse
            {
                Results = finals.Select(f => new RlResult { Completions = f.Outputs.Select(Completion).ToArray() }).ToArray(),
            };
            await RlEncoding.WriteAsync(context, response, body.IsMessagePack, ct);
            return;
        }
        context.Response.ContentType = body.IsMessagePack ? RlEncoding.MessagePackType : "application/x-ndjson";
        var sent = new HashSet<(int, int)>();
        await foreach (var (p, output) in group.MergedAsync(ct))
            foreach (var c in output.Outputs)
            {
                if (!c.Finished || !sent.Add((p, c.Index))) continue;
                var line = new RlStreamedCompletion { PromptIndex = p, Completion = Completion(c) };
                if (body.IsMessagePack) await context.Response.Body.WriteAsync(MessagePackSerializer.Serialize(line, cancellationToken: ct), ct);
                else await context.Response.WriteAsync(JsonSerializer.Serialize(line, ServerJson.Options) + "\n", ct);
                await context.Response.Body.FlushAsync(ct);
            }
    }

    static RlCompletion Completion(CompletionOutput c) => new()
    {
        Index = c.Index,
        TokenIds = c.TokenIds.ToArray(),
        Logprobs = c.Logprobs?.ToArray(),
        TopLogprobs = c.TopLogprobs?.Select(top => top.Select(t => new RlTokenLogprob { TokenId = t.TokenId, Logprob = t.Logprob }).ToArray()).ToArray(),
        WeightVersions = c.WeightVersions.ToArray(),
        SupportSizes = c.SupportSizes?.ToArray(),
        SupportIds = c.SupportIds?.Select(ids => ids.ToArray()).ToArray(),
        FinishReason = c.FinishReason,
    };
}
