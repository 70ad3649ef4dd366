namespace Rollout.Models.Chat.Jinja;

/// <summary>
/// Variables visible at one point of a render. Loops and macros open a child scope, so a
/// <c>set</c> inside them is gone after them: that is why templates use <c>namespace()</c>.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    readonly Scope? _parent = parent;
    readonly Dictionary<string, object?> _variables = [];

    public object? Lookup(string name)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
        {
            if (scope._variables.TryGetValue(name, out var value)) return value;
        }
        return Undefined.Instance;
    }

    public void Set(string name, object? value) => _variables[name] = value;
}
