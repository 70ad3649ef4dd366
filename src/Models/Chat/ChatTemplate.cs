using System.Text.Json;
using Rollout.Models.Chat.Jinja;

namespace Rollout.Models.Chat;

/// <summary>
/// A compiled HF chat template (the Jinja in tokenizer_config.json's <c>chat_template</c>) that turns a
/// conversation into the prompt text the model was trained on. Parse once, render from any thread.
/// </summary>
public sealed class ChatTemplate
{
    readonly IReadOnlyList<Stmt> _program;

    ChatTemplate(IReadOnlyList<Stmt> program) => _program = program;

    /// <summary>Parses <paramref name="template"/>; throws <see cref="ChatTemplateException"/> with the line and column of a syntax error.</summary>
    public static ChatTemplate Parse(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return new ChatTemplate(Parser.Parse(template));
    }

    /// <summary>Renders <paramref name="messages"/>; throws <see cref="ChatTemplateException"/> when the template fails or rejects them.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        options ??= new ChatTemplateOptions();
        return Evaluator.Render(_program, Globals(messages, options));
    }

    static Scope Globals(IReadOnlyList<ChatMessage> messages, ChatTemplateOptions options)
    {
        var globals = new Scope(null);
        DateTime date = options.Date ?? DateTime.Now;
        globals.Set("namespace", (Function)(a =>
        {
            var ns = new Namespace();
            if (a.Positional is [OrderedDictionary<string, object?> initial]) foreach (var e in initial) ns.Attributes[e.Key] = e.Value;
            foreach (var (key, value) in a.Named) ns.Attributes[key] = value;
            return ns;
        }));
        globals.Set("dict", (Function)(a => Values.ToDictionary(a.Named.Select(e => (e.Key, e.Value)))));
        globals.Set("range", (Function)Range);
        globals.Set("raise_exception", (Function)(a => throw new ChatTemplateException(Values.ToText(a.Get(0, "message", "")))));
        globals.Set("strftime_now", (Function)(a => Strftime.Format(date, Values.ToText(a.Get(0, "format", "")))));
        foreach (var (name, value) in options.Variables ?? new Dictionary<string, object?>()) globals.Set(name, Values.FromClr(value));
        globals.Set("messages", messages.Select(ToValue).ToList<object?>());
        globals.Set("add_generation_prompt", options.AddGenerationPrompt);
        if (options.Tools is { } tools) globals.Set("tools", tools.Select(Values.FromJson).ToList());
        if (options.BosToken is { } bos) globals.Set("bos_token", bos);
        if (options.EosToken is { } eos) globals.Set("eos_token", eos);
        return globals;
    }

    static object? Range(CallArguments a)
    {
        long start = 0, step = 1, stop;
        if (a.Positional.Count == 1) stop = a.GetInt(0, "stop", "range", 0);
        else
        {
            start = a.GetInt(0, "start", "range", 0);
            stop = a.GetInt(1, "stop", "range", 0);
            step = a.GetInt(2, "step", "range", 1);
        }
        if (step == 0) throw new TemplateRuntimeError("range() step must not be zero");
        var result = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) result.Add(i);
        return result;
    }

    /// <summary>The message as transformers passes it: only the keys the caller set.</summary>
    static OrderedDictionary<string, object?> ToValue(ChatMessage message)
    {
        var value = new OrderedDictionary<string, object?> { ["role"] = message.Role, ["content"] = message.Content };
        if (message.ToolCalls is { } calls) value["tool_calls"] = calls.Select(ToValue).ToList<object?>();
        if (message.ToolCallId is { } id) value["tool_call_id"] = id;
        if (message.Name is { } name) value["name"] = name;
        if (message.ReasoningContent is { } reasoning) value["reasoning_content"] = reasoning;
        return value;
    }

    static OrderedDictionary<string, object?> ToValue(ToolCall call)
    {
        var value = new OrderedDictionary<string, object?>();
        if (call.Id is { } id) value["id"] = id;
        value["type"] = "function";
        value["function"] = new OrderedDictionary<string, object?> { ["name"] = call.Name, ["arguments"] = Values.FromJson(call.Arguments) };
        return value;
    }
}
