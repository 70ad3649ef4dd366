namespace Rollout.Models.Chat.Jinja;

/// <summary>Python methods templates call on strings (<c>content.split('x')</c>) and mappings (<c>d.items()</c>).</summary>
internal static class Methods
{
    public static Function? Find(object? target, string name) => target switch
    {
        string s => StringMethod(s, name),
        OrderedDictionary<string, object?> d => MappingMethod(d, name),
        _ => null,
    };

    static Function? StringMethod(string s, string name) => name switch
    {
        "upper" => _ => s.ToUpperInvariant(),
        "lower" => _ => s.ToLowerInvariant(),
        "title" => _ => Text.Title(s),
        "capitalize" => _ => Text.Capitalize(s),
        "strip" => a => Text.Strip(s, a.GetString(0, "chars", "strip"), start: true, end: true),
        "lstrip" => a => Text.Strip(s, a.GetString(0, "chars", "lstrip"), start: true, end: false),
        "rstrip" => a => Text.Strip(s, a.GetString(0, "chars", "rstrip"), start: false, end: true),
        "split" => a => Text.Split(s, a.GetString(0, "sep", "split"), a.GetInt(1, "maxsplit", "split", -1)),
        "startswith" => a => Affixes(a.Required(0, "prefix", "startswith")).Any(p => s.StartsWith(p, StringComparison.Ordinal)),
        "endswith" => a => Affixes(a.Required(0, "suffix", "endswith")).Any(p => s.EndsWith(p, StringComparison.Ordinal)),
        "replace" => a => Text.Replace(s, a.GetString(0, "old", "replace") ?? "", a.GetString(1, "new", "replace") ?? "", a.GetInt(2, "count", "replace", -1)),
        "find" => a => (long)s.IndexOf(a.GetString(0, "sub", "find") ?? "", StringComparison.Ordinal),
        "count" => a => (long)Text.Count(s, a.GetString(0, "sub", "count") ?? ""),
        "join" => a => string.Join(s, Values.Iterate(a.Required(0, "iterable", "join")).Select(Values.ToText)),
        "isdigit" => _ => s.Length > 0 && s.All(char.IsDigit),
        "isspace" => _ => s.Length > 0 && s.All(char.IsWhiteSpace),
        _ => null,
    };

    static IEnumerable<string> Affixes(object? value) => value switch
    {
        string s => [s],
        List<object?> list => list.Select(x => x as string ?? throw new TemplateRuntimeError("startswith/endswith tuple items must be strings")),
        _ => throw new TemplateRuntimeError($"startswith/endswith argument must be a string or tuple, not '{Values.TypeName(value)}'"),
    };

    static Function? MappingMethod(OrderedDictionary<string, object?> d, string name) => name switch
    {
        "items" => _ => Items(d),
        "keys" => _ => d.Keys.Cast<object?>().ToList(),
        "values" => _ => d.Values.ToList(),
        "get" => a => a.Required(0, "key", "get") is string key && d.TryGetValue(key, out var v) ? v : a.Get(1, "default"),
        _ => null,
    };

    public static List<object?> Items(OrderedDictionary<string, object?> d) =>
        d.Select(e => (object?)new List<object?> { e.Key, e.Value }).ToList();
}
