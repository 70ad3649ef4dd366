using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Server.Http;

namespace Rollout.Server.OpenAi;

/// <summary><c>POST /v1/completions</c>: OpenAI's legacy completions, with vLLM's extensions, whole or streamed.</summary>
internal static class CompletionsEndpoint
{
    /// <summary>OpenAI's default when a request names no <c>max_tokens</c>.</summary>
    const int DefaultMaxTokens = 16;

    public static async Task HandleAsync(HttpContext context, EngineHost host)
    {
        var ct = context.RequestAborted;
        var body = await RequestBody.ReadAsync(context.Request, ct);
        host.CheckModel(body, required: false);
        if (body.Bool("echo") == true) throw ApiException.BadRequest("echo is not supported", "echo");
        if (body.Has("suffix")) throw ApiException.BadRequest("suffix is not supported", "suffix");
        if (body.Int("best_of", 1) is > 1) throw ApiException.BadRequest("best_of > 1 is not supported: use n", "best_of");
        var prompts = PromptField.Read(body, host);
        var sampling = SamplingFields.Read(body, LogprobsStyle.Count, host.VocabSize);
        bool stream = body.Bool("stream") ?? false;
        bool includeUsage = body.Object("stream_options")?.Bool("include_usage") ?? false;
        bool returnTokenIds = body.Bool("return_token_ids") ?? false;
        var perPrompt = prompts.Select(p => sampling.MaxTokens is null
            ? sampling with { MaxTokens = Math.Max(1, Math.Min(DefaultMaxTokens, host.MaxModelLength - p.Count)) }
            : sampling).ToArray();

        string id = "cmpl-" + RequestIds.Of(context);
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var group = host.Start(RequestIds.Of(context), prompts, perPrompt, ct);
        var choices = new ChoiceStream(host, sampling.N);
        int promptTokens = prompts.Sum(p => p.Count);
        if (!stream)
        {
            var finals = await group.FinalsAsync();
            var whole = new List<CompletionChoice>();
            for (int p = 0; p < finals.Length; p++)
                foreach (var c in finals[p].Outputs)
                    whole.Add(Choice(choices, p, c, 0, c.TokenIds.Count, c.Text, 0, finals[p], returnTokenIds, first: true, final: true));
            int generated = finals.Sum(f => f.Outputs.Sum(c => c.TokenIds.Count));
            await context.Response.WriteAsJsonAsync(
                new CompletionResponse(id, "text_completion", created, host.Name, whole, Usage.Of(promptTokens, generated)), ServerJson.Options, ct);
            return;
        }

        var events = new ServerSentEvents(context.Response);
        int completionTokens = 0;
        await foreach (var (p, output) in group.MergedAsync(ct))
            foreach (var c in output.Outputs)
            {
                if (choices.Next(choices.ChoiceIndex(p, c), c) is not var (from, to, offset, first)) continue;
                completionTokens += to - from;
                var chunk = Choice(choices, p, c, from, to, c.NewText, offset, output, returnTokenIds, first, final: c.Finished);
                await events.WriteAsync(new CompletionResponse(id, "text_completion", created, host.Name, [chunk], null), ct);
            }
        if (includeUsage)
            await events.WriteAsync(new CompletionResponse(id, "text_completion", created, host.Name, [], Usage.Of(promptTokens, completionTokens)), ct);
        await events.DoneAsync(ct);
    }

    static CompletionChoice Choice(ChoiceStream choices, int prompt, CompletionOutput c, int from, int to, string text, int textOffset,
                                   RequestOutput request, bool returnTokenIds, bool first, bool final) =>
        new(choices.ChoiceIndex(prompt, c), text, choices.CompletionLogprobs(c, from, to, textOffset), final ? c.FinishReason : null)
        {
            StopReason = final ? c.StopReason : null,
            PromptTokenIds = returnTokenIds && first ? request.PromptTokenIds : null,
            PromptLogprobs = first ? choices.PromptLogprobs(request) : null,
            TokenIds = returnTokenIds ? c.TokenIds.Skip(from).Take(to - from).ToArray() : null,
            WeightVersion = c.WeightVersions.Count > 0 ? c.WeightVersions[^1] : null,
            WeightVersions = returnTokenIds ? c.WeightVersions.Skip(from).Take(to - from).ToArray() : null,
        };
}
