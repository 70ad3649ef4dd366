namespace Rollout.Models.Chat;

/// <summary>One turn of a conversation, as HF chat templates expect it.</summary>
/// <param name="Role">"system", "user", "assistant", "tool", or whatever else the template knows.</param>
/// <param name="Content">The text; null only where the template accepts none (an assistant turn that only calls tools).</param>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>Function calls made by an assistant turn.</summary>
    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }

    /// <summary>For a tool turn: the id of the call it answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>For a tool turn: the function's name; for other turns, the speaker's name.</summary>
    public string? Name { get; init; }

    /// <summary>An assistant turn's reasoning, kept apart from its content (Qwen3 renders it in <c>&lt;think&gt;</c>).</summary>
    public string? ReasoningContent { get; init; }
}
