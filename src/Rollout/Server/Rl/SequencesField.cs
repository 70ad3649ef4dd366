using System.Text.Json;
using Rollout.Server.Http;

namespace Rollout.Server.Rl;

/// <summary>A prompt and a completion, as <c>/rl/score</c> and <c>/rl/reward</c> take them.</summary>
internal readonly record struct PromptAndCompletion(int[] PromptIds, int[] CompletionIds);

/// <summary>
/// The <c>sequences</c> field of <c>/rl/score</c> and <c>/rl/reward</c>: a non-empty list of
/// <c>{"prompt_ids", "completion_ids"}</c>, every id checked against the vocabulary, each refusal a 400
/// naming the field (<c>sequences[2].completion_ids[5]</c>).
/// </summary>
internal static class SequencesField
{
    public static PromptAndCompletion[] Read(RequestBody body, int vocabSize, int maxCount)
    {
        const string name = "sequences";
        if (body.Raw(name) is not { } list) throw ApiException.BadRequest("sequences is required: a list of {prompt_ids, completion_ids}", name);
        if (list.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("sequences must be a list of {prompt_ids, completion_ids}", name);
        int count = list.GetArrayLength();
        if (count == 0) throw ApiException.BadRequest("sequences is empty", name);
        if (count > maxCount) throw ApiException.BadRequest($"the request holds {count} sequences; this server allows {maxCount}", name);
        return list.EnumerateArray().Select((sequence, i) =>
        {
            string path = $"{name}[{i}]";
            if (sequence.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{path} must be an object with prompt_ids and completion_ids", path);
            return new PromptAndCompletion(Ids(sequence, path, "prompt_ids", vocabSize), Ids(sequence, path, "completion_ids", vocabSize));
        }).ToArray();
    }

    static int[] Ids(JsonElement sequence, string path, string name, int vocabSize) =>
        sequence.TryGetProperty(name, out var ids) && ids.ValueKind != JsonValueKind.Null
            ? RequestBody.IntArray(ids, $"{path}.{name}", 0, vocabSize - 1)
            : throw ApiException.BadRequest($"{path}.{name} is required: a list of token ids", $"{path}.{name}");
}
