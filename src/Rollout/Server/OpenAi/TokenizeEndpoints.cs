using Rollout.Models.Chat;
using Rollout.Server.Http;

namespace Rollout.Server.OpenAi;

/// <summary><c>POST /tokenize</c> and <c>POST /detokenize</c>, as vLLM has them.</summary>
internal static class TokenizeEndpoints
{
    public static async Task<object> TokenizeAsync(HttpContext context, EngineHost host)
    {
        var body = await RequestBody.ReadAsync(context.Request, context.RequestAborted);
        host.CheckModel(body, required: false);
        var tokenizer = host.RequireTokenizer("prompt");
        IReadOnlyList<int> tokens;
        if (body.Has("messages"))
        {
            var messages = ChatCompletionsEndpoint.Messages(body);
            string text;
            try
            {
                text = host.ChatTemplate.Render(messages, new ChatTemplateOptions { AddGenerationPrompt = body.Bool("add_generation_prompt") ?? true });
            }
            catch (ChatTemplateException e)
            {
                throw ApiException.BadRequest($"the chat template refused the messages: {e.Message}", "messages");
            }
            tokens = tokenizer.Encode(text, addSpecialTokens: body.Bool("add_special_tokens") ?? false);
        }
        else
        {
            string prompt = body.String("prompt") ?? throw ApiException.BadRequest("prompt (a string) or messages is required", "prompt");
            tokens = tokenizer.Encode(prompt, addSpecialTokens: body.Bool("add_special_tokens") ?? true);
        }
        return new { count = tokens.Count, max_model_len = host.MaxModelLength, tokens };
    }

    public static async Task<object> DetokenizeAsync(HttpContext context, EngineHost host)
    {
        var body = await RequestBody.ReadAsync(context.Request, context.RequestAborted);
        host.CheckModel(body, required: false);
        var tokens = body.Ints("tokens", 0, host.VocabSize - 1) ?? throw ApiException.BadRequest("tokens (a list of token ids) is required", "tokens");
        var tokenizer = host.RequireTokenizer("tokens");
        if (tokens.FirstOrDefault(t => t >= tokenizer.VocabSize, -1) is >= 0 and var padding)
            throw ApiException.BadRequest($"token {padding} is a padding row of the model: it has no text", "tokens");
        return new { prompt = tokenizer.Decode(tokens, skipSpecialTokens: false) };
    }
}
