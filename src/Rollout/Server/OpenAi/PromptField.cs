using System.Text.Json;
using Rollout.Server.Http;

namespace Rollout.Server.OpenAi;

/// <summary>
/// The <c>prompt</c> of <c>/v1/completions</c> in each form OpenAI accepts: a text, a list of token
/// ids, or a batch of either. Text is encoded with the model's special tokens (BOS) as vLLM does.
/// </summary>
internal static class PromptField
{
    public static IReadOnlyList<IReadOnlyList<int>> Read(RequestBody body, EngineHost host)
    {
        if (body.Raw("prompt") is not { } prompt) throw ApiException.BadRequest("prompt is required", "prompt");
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return [Encode(prompt.GetString()!, host, "prompt")];
            case JsonValueKind.Array:
                int count = prompt.GetArrayLength();
                if (count == 0) throw ApiException.BadRequest("prompt is an empty list", "prompt");
                var first = prompt[0];
                if (first.ValueKind == JsonValueKind.Number) return [RequestBody.IntArray(prompt, "prompt", 0, host.VocabSize - 1)];
                var batch = new List<IReadOnlyList<int>>(count);
                int i = 0;
                foreach (var item in prompt.EnumerateArray())
                {
                    string param = $"prompt[{i++}]";
                    batch.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => Encode(item.GetString()!, host, param),
                        JsonValueKind.Array => RequestBody.IntArray(item, param, 0, host.VocabSize - 1),
                        _ => throw ApiException.BadRequest($"{param} must be a string or a list of token ids", param),
                    });
                }
                return batch;
            default:
                throw ApiException.BadRequest("prompt must be a string, a list of token ids, or a list of either", "prompt");
        }
    }

    static IReadOnlyList<int> Encode(string text, EngineHost host, string param)
    {
        var ids = host.RequireTokenizer(param).Encode(text, addSpecialTokens: true);
        return ids.Count > 0 ? ids : throw ApiException.BadRequest($"{param} encodes to no tokens", param);
    }
}
