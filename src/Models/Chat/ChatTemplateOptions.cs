using System.Text.Json;

namespace Rollout.Models.Chat;

/// <summary>The variables a chat template is rendered with, besides the messages.</summary>
public sealed record ChatTemplateOptions
{
    /// <summary>End with the header that starts the assistant's reply (<c>add_generation_prompt</c>).</summary>
    public bool AddGenerationPrompt { get; init; }

    /// <summary>Function schemas the model may call (<c>tools</c>), each a JSON object as in OpenAI's API; null for none.</summary>
    public IReadOnlyList<JsonElement>? Tools { get; init; }

    /// <summary>The tokenizer's <c>bos_token</c>; undefined in the template when null.</summary>
    public string? BosToken { get; init; }

    /// <summary>The tokenizer's <c>eos_token</c>; undefined in the template when null.</summary>
    public string? EosToken { get; init; }

    /// <summary>
    /// What <c>strftime_now</c> formats, so that renders are reproducible; the local time at render when null.
    /// </summary>
    public DateTime? Date { get; init; }

    /// <summary>
    /// Further template variables, such as Qwen3's <c>enable_thinking</c>. Values may be null, a string,
    /// bool, number, <see cref="JsonElement"/> or <see cref="System.Text.Json.Nodes.JsonNode"/>.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }
}
