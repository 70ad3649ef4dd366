using System.Text.Json.Nodes;

namespace Rollout.Models.Tests.Tokenization;

/// <summary>A folder under the temp path, deleted with everything in it.</summary>
sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rollout-tokenizer-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Edits of written tokenizer files, for the cases the npm tokenizers do not cover.</summary>
static class TestTokenizerFiles
{
    public static void Edit(string dir, string file, Action<JsonObject> edit)
    {
        string path = System.IO.Path.Combine(dir, file);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    public static void SetPostProcessor(string dir, JsonNode postProcessor) =>
        Edit(dir, "tokenizer.json", j => j["post_processor"] = postProcessor);

    /// <summary>A TemplateProcessing post-processor as Llama 3 writes it: "$A" between a prefix and a suffix token.</summary>
    public static JsonNode Template(string prefix, int prefixId, string suffix, int suffixId) => JsonNode.Parse($$$"""
        {
          "type": "TemplateProcessing",
          "single": [
            {"SpecialToken": {"id": "{{{prefix}}}", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "{{{suffix}}}", "type_id": 0}}
          ],
          "pair": [],
          "special_tokens": {
            "{{{prefix}}}": {"id": "{{{prefix}}}", "ids": [{{{prefixId}}}], "tokens": ["{{{prefix}}}"]},
            "{{{suffix}}}": {"id": "{{{suffix}}}", "ids": [{{{suffixId}}}], "tokens": ["{{{suffix}}}"]}
          }
        }
        """)!;
}
