using System.Text.Json;
using Rollout.Engine;
using Rollout.Models.Chat;
using Rollout.Server.Http;

namespace Rollout.Server.OpenAi;

/// <summary><c>POST /v1/chat/completions</c>: messages through the model's chat template, whole or streamed.</summary>
internal static class ChatCompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext context, EngineHost host)
    {
        var ct = context.RequestAborted;
        var body = await RequestBody.ReadAsync(context.Request, ct);
        host.CheckModel(body, required: false);
        var messages = Messages(body);
        var sampling = SamplingFields.Read(body, LogprobsStyle.FlagWithTop, host.VocabSize);
        bool stream = body.Bool("stream") ?? false;
        bool includeUsage = body.Object("stream_options")?.Bool("include_usage") ?? false;
        bool returnTokenIds = body.Bool("return_token_ids") ?? false;
        string text;
        try
        {
            text = host.ChatTemplate.Render(messages, new ChatTemplateOptions { AddGenerationPrompt = body.Bool("add_generation_prompt") ?? true });
        }
        catch (ChatTemplateException e)
        {
            throw ApiException.BadRequest($"the chat template refused the messages: {e.Message}", "messages");
        }
        // A rendered template holds its own BOS text.
        IReadOnlyList<int> prompt = host.RequireTokenizer("messages").Encode(text, addSpecialTokens: false);
        if (sampling.MaxTokens is null) sampling = sampling with { MaxTokens = Math.Max(1, host.MaxModelLength - prompt.Count) };

        string id = "chatcmpl-" + RequestIds.Of(context);
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var group = host.Start(RequestIds.Of(context), [prompt], [sampling], ct, promptParam: _ => "messages");
        var choices = new ChoiceStream(host, sampling.N);
        if (!stream)
        {
            var final = (await group.FinalsAsync())[0];
            var whole = final.Outputs.Select(c => new ChatChoice(c.Index, choices.ChatLogprobs(c, 0, c.TokenIds.Count), c.FinishReason)
            {
                Message = new ChatMessageBody("assistant", c.Text),
                StopReason = c.StopReason,
                PromptTokenIds = returnTokenIds ? final.PromptTokenIds : null,
                TokenIds = returnTokenIds ? c.TokenIds : null,
                WeightVersion = c.WeightVersions.Count > 0 ? c.WeightVersions[^1] : null,
                WeightVersions = returnTokenIds ? c.WeightVersions : null,
            }).ToList();
            await context.Response.WriteAsJsonAsync(new ChatResponse(id, "chat.completion", created, host.Name, whole,
                Usage.Of(prompt.Count, final.Outputs.Sum(c => c.TokenIds.Count))), ServerJson.Options, ct);
            return;
        }

        var events = new ServerSentEvents(context.Response);
        int completionTokens = 0;
        await foreach (var (_, output) in group.MergedAsync(ct))
            foreach (var c in output.Outputs)
            {
                if (choices.Next(c.Index, c) is not var (from, to, _, first)) continue;
                completionTokens += to - from;
                var chunk = new ChatChoice(c.Index, choices.ChatLogprobs(c, from, to), c.Finished ? c.FinishReason : null)
                {
                    Delta = new ChatMessageBody(first ? "assistant" : null, c.NewText),
                    StopReason = c.Finished ? c.StopReason : null,
                    PromptTokenIds = returnTokenIds && first ? output.PromptTokenIds : null,
                    TokenIds = returnTokenIds ? c.TokenIds.Skip(from).Take(to - from).ToArray() : null,
                    WeightVersion = c.WeightVersions.Count > 0 ? c.WeightVersions[^1] : null,
                    WeightVersions = returnTokenIds ? c.WeightVersions.Skip(from).Take(to - from).ToArray() : null,
                };
                await events.WriteAsync(new ChatResponse(id, "chat.completion.chunk", created, host.Name, [chunk], null), ct);
            }
        if (includeUsage)
            await events.WriteAsync(new ChatResponse(id, "chat.completion.chunk", created, host.Name, [], Usage.Of(prompt.Count, completionTokens)), ct);
        await events.DoneAsync(ct);
    }

    /// <summary>The messages: each a role and a content that is a text or a list of text parts.</summary>
    internal static IReadOnlyList<ChatMessage> Messages(RequestBody body)
    {
        if (body.Raw("messages") is not { } list) throw ApiException.BadRequest("messages is required", "messages");
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw ApiException.BadRequest("messages must be a non-empty list of {role, content}", "messages");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var m in list.EnumerateArray())
        {
            string param = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{param} must be an object with role and content", param);
            string role = m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!
                : throw ApiException.BadRequest($"{param}.role must be a string", param + ".role");
            messages.Add(new ChatMessage(role, Content(m, param)));
        }
        return messages;
    }

    static string? Content(JsonElement message, string param)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null) return null;
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"{param}.content must be a string or a list of text parts", param + ".content");
        var text = new System.Text.StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                || !part.TryGetProperty("text", out var value) || value.ValueKind != JsonValueKind.String)
                throw ApiException.BadRequest($"{param}.content parts must be {{\"type\": \"text\", \"text\": ...}}: this model reads text only", param + ".content");
            text.Append(value.GetString());
        }
        return text.ToString();
    }
}
