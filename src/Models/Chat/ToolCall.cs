using System.Text.Json;

namespace Rollout.Models.Chat;

/// <summary>
/// A function call an assistant message made. Templates see it OpenAI-style:
/// <c>{"id": ..., "type": "function", "function": {"name": ..., "arguments": ...}}</c>.
/// </summary>
/// <param name="Name">The function's name.</param>
/// <param name="Arguments">
/// The arguments as templates see them: a JSON object, or a JSON string holding the arguments' text
/// (as OpenAI-style clients send them; templates usually print such a string as it is).
/// </param>
/// <param name="Id">The call's id, which a later tool message may quote; null when the client gave none.</param>
public sealed record ToolCall(string Name, JsonElement Arguments, string? Id = null)
{
    /// <summary>A call whose arguments are JSON text, passed to templates as a string.</summary>
    public ToolCall(string name, string argumentsJson, string? id = null)
        : this(name, JsonSerializer.SerializeToElement(argumentsJson), id)
    {
    }
}
