namespace Rollout.Models.Chat.Jinja;

/// <summary>
/// Evaluated arguments of a call, filter or test, looked up Python-style by position or name;
/// index -1 marks a keyword-only parameter.
/// </summary>
internal sealed class CallArguments(List<object?> positional, Dictionary<string, object?> named)
{
    public static readonly CallArguments Empty = new([], []);

    public List<object?> Positional { get; } = positional;

    public Dictionary<string, object?> Named { get; } = named;

    public object? Get(int index, string name, object? fallback = null) =>
        index >= 0 && index < Positional.Count ? Positional[index]
        : Named.TryGetValue(name, out var value) ? value
        : fallback;

    public object? Required(int index, string name, string function) =>
        (index >= 0 && index < Positional.Count) || Named.ContainsKey(name)
            ? Get(index, name)
            : throw new TemplateRuntimeError($"{function}() missing required argument '{name}'");

    public string? GetString(int index, string name, string function, string? fallback = null) => Get(index, name, fallback) switch
    {
        null => null,
        string s => s,
        var other => throw new TemplateRuntimeError($"{function}() expects '{name}' to be a string, got '{Values.TypeName(other)}'"),
    };

    public bool GetBool(int index, string name, bool fallback) => Values.IsTruthy(Get(index, name, fallback));

    public long GetInt(int index, string name, string function, long fallback) => Get(index, name, fallback) switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        var other => throw new TemplateRuntimeError($"{function}() expects '{name}' to be an integer, got '{Values.TypeName(other)}'"),
    };

    /// <summary>The arguments after the first <paramref name="skip"/> positional ones.</summary>
    public CallArguments Skip(int skip) => new(Positional.Skip(skip).ToList(), Named);
}
