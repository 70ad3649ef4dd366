namespace Rollout.Models.Chat.Jinja;

internal delegate object? Filter(object? value, CallArguments arguments);

/// <summary>Jinja's built-in filters that chat templates use, plus transformers' <c>tojson</c>.</summary>
internal static class Filters
{
    static readonly Dictionary<string, Filter> All = new()
    {
        ["safe"] = (v, _) => v,
        ["string"] = (v, _) => Values.ToText(v),
        ["tojson"] = JsonWriter.Serialize,
        ["length"] = (v, _) => Length(v),
        ["count"] = (v, _) => Length(v),
        ["upper"] = (v, _) => Values.ToText(v).ToUpperInvariant(),
        ["lower"] = (v, _) => Values.ToText(v).ToLowerInvariant(),
        ["title"] = (v, _) => Text.Title(Values.ToText(v)),
        ["capitalize"] = (v, _) => Text.Capitalize(Values.ToText(v)),
        ["trim"] = (v, a) => Text.Strip(Values.ToText(v), a.GetString(0, "chars", "trim"), start: true, end: true),
        ["replace"] = (v, a) => Text.Replace(Values.ToText(v), a.GetString(0, "old", "replace") ?? "", a.GetString(1, "new", "replace") ?? "", a.GetInt(2, "count", "replace", -1)),
        ["indent"] = Indent,
        ["default"] = Default,
        ["d"] = Default,
        ["join"] = (v, a) => string.Join(a.GetString(0, "d", "join", "") ?? "",
            Values.Iterate(v).Select(x => Values.ToText(a.GetString(1, "attribute", "join") is { } attr ? Attribute(x, attr) : x))),
        ["first"] = (v, _) => Values.Iterate(v) is { Count: > 0 } items ? items[0] : Undefined.Instance,
        ["last"] = (v, _) => Values.Iterate(v) is { Count: > 0 } items ? items[^1] : Undefined.Instance,
        ["list"] = (v, _) => Values.Iterate(v).ToList(),
        ["reverse"] = (v, _) => v is string s ? string.Concat(Enumerable.Reverse(Text.CodePoints(s))) : Enumerable.Reverse(Values.Iterate(v)).ToList(),
        ["items"] = (v, _) => v switch
        {
            OrderedDictionary<string, object?> d => Methods.Items(d),
            Undefined => new List<object?>(),
            _ => throw new TemplateRuntimeError($"items filter expects a mapping, got '{Values.TypeName(v)}'"),
        },
        ["dictsort"] = DictSort,
        ["sort"] = Sort,
        ["unique"] = Unique,
        ["selectattr"] = (v, a) => SelectAttribute(v, a, keep: true),
        ["rejectattr"] = (v, a) => SelectAttribute(v, a, keep: false),
        ["select"] = (v, a) => Select(v, a, keep: true),
        ["reject"] = (v, a) => Select(v, a, keep: false),
        ["map"] = Map,
        ["int"] = ToInt,
        ["float"] = ToFloat,
        ["abs"] = (v, _) => v is long l ? (object)Math.Abs(l) : Math.Abs(Values.ToDouble(v)),
        ["round"] = Round,
        ["bool"] = (v, _) => Values.IsTruthy(v),
        ["sum"] = (v, a) => Values.Iterate(v).Select(x => a.GetString(-1, "attribute", "sum") is { } attr ? Attribute(x, attr) : x)
            .Aggregate(a.Get(-1, "start", 0L), (sum, x) => Arithmetic.Apply("+", sum, x)),
        ["min"] = (v, a) => Values.Iterate(v) is { Count: > 0 } items ? items.MinBy(x => x, Comparer(a)) : Undefined.Instance,
        ["max"] = (v, a) => Values.Iterate(v) is { Count: > 0 } items ? items.MaxBy(x => x, Comparer(a)) : Undefined.Instance,
    };

    public static Filter? Find(string name) => All.GetValueOrDefault(name);

    static long Length(object? value) => value switch
    {
        string s => s.EnumerateRunes().Count(),
        List<object?> list => list.Count,
        OrderedDictionary<string, object?> d => d.Count,
        Undefined => 0,
        _ => throw new TemplateRuntimeError($"object of type '{Values.TypeName(value)}' has no len()"),
    };

    static object? Default(object? value, CallArguments a)
    {
        bool replaceFalsy = a.GetBool(1, "boolean", false);
        return value is Undefined || (replaceFalsy && !Values.IsTruthy(value)) ? a.Get(0, "default_value", "") : value;
    }

    static object? Indent(object? value, CallArguments a)
    {
        string indent = a.Get(0, "width", 4L) is string s ? s : new string(' ', (int)a.GetInt(0, "width", "indent", 4));
        bool first = a.GetBool(1, "first", false), blank = a.GetBool(2, "blank", false);
        // Jinja appends a newline before splitting so that a trailing newline survives.
        var lines = (Values.ToText(value) + "\n").Split('\n').SkipLast(1).ToList();
        string result = lines[0] + string.Concat(lines.Skip(1).Select(line => "\n" + (blank || line.Length > 0 ? indent + line : line)));
        return first ? indent + result : result;
    }

    static object? DictSort(object? value, CallArguments a)
    {
        if (value is not OrderedDictionary<string, object?> d)
            throw new TemplateRuntimeError($"dictsort filter expects a mapping, got '{Values.TypeName(value)}'");
        bool caseSensitive = a.GetBool(0, "case_sensitive", false);
        int by = a.GetString(1, "by", "dictsort", "key") == "value" ? 1 : 0;
        var sorted = Methods.Items(d).OrderBy(pair => ((List<object?>)pair!)[by], Comparer(caseSensitive)).ToList();
        if (a.GetBool(2, "reverse", false)) sorted.Reverse();
        return sorted;
    }

    static object? Sort(object? value, CallArguments a)
    {
        string? attribute = a.GetString(2, "attribute", "sort");
        var sorted = Values.Iterate(value).OrderBy(x => attribute is null ? x : Attribute(x, attribute), Comparer(a.GetBool(1, "case_sensitive", false))).ToList();
        if (a.GetBool(0, "reverse", false)) sorted.Reverse();
        return sorted;
    }

    static object? Unique(object? value, CallArguments a)
    {
        bool caseSensitive = a.GetBool(0, "case_sensitive", false);
        string? attribute = a.GetString(1, "attribute", "unique");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in Values.Iterate(value))
        {
            var key = attribute is null ? item : Attribute(item, attribute);
            if (!caseSensitive && key is string s) key = s.ToLowerInvariant();
            if (seen.Any(k => Values.AreEqual(k, key))) continue;
            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    static object? SelectAttribute(object? value, CallArguments a, bool keep)
    {
        string attribute = a.GetString(0, "attr", "selectattr") ?? throw new TemplateRuntimeError("selectattr() needs an attribute name");
        return Values.Iterate(value).Where(item => Passes(Attribute(item, attribute), a.Skip(1)) == keep).ToList();
    }

    static object? Select(object? value, CallArguments a, bool keep) =>
        Values.Iterate(value).Where(item => Passes(item, a) == keep).ToList();

    /// <summary>Applies the test named by the first argument (truthiness when there is none) to <paramref name="value"/>.</summary>
    static bool Passes(object? value, CallArguments a)
    {
        if (a.Positional.Count == 0) return Values.IsTruthy(value);
        string name = a.Positional[0] as string ?? throw new TemplateRuntimeError("test name must be a string");
        var test = Tests.Find(name) ?? throw new TemplateRuntimeError($"No test named '{name}'");
        return test(value, a.Skip(1));
    }

    static object? Map(object? value, CallArguments a)
    {
        var items = Values.Iterate(value);
        if (a.Named.TryGetValue("attribute", out var attribute))
        {
            var fallback = a.Named.GetValueOrDefault("default", Undefined.Instance);
            return items.Select(x => Attribute(x, Values.ToText(attribute)) is Undefined ? fallback : Attribute(x, Values.ToText(attribute))).ToList();
        }
        string name = a.GetString(0, "name", "map") ?? throw new TemplateRuntimeError("map() needs a filter name or attribute=");
        var filter = Find(name) ?? throw new TemplateRuntimeError($"No filter named '{name}'");
        var rest = a.Skip(1);
        return items.Select(x => filter(x, rest)).ToList();
    }

    static object? ToInt(object? value, CallArguments a)
    {
        var fallback = a.Get(0, "default", 0L);
        return value switch
        {
            long or bool => value is bool b ? (b ? 1L : 0L) : value,
            double d => (long)Math.Truncate(d),
            string s when long.TryParse(s.Trim(), out long l) => l,
            string s when double.TryParse(s.Trim(), System.Globalization.CultureInfo.InvariantCulture, out double d) => (long)Math.Truncate(d),
            _ => fallback,
        };
    }

    static object? ToFloat(object? value, CallArguments a) => value switch
    {
        long or double or bool => Values.ToDouble(value),
        string s when double.TryParse(s.Trim(), System.Globalization.CultureInfo.InvariantCulture, out double d) => d,
        _ => a.Get(0, "default", 0.0),
    };

    static object? Round(object? value, CallArguments a)
    {
        int precision = (int)a.GetInt(0, "precision", "round", 0);
        double x = Values.ToDouble(value);
        return a.GetString(1, "method", "round", "common") switch
        {
            "ceil" => Math.Ceiling(x * Math.Pow(10, precision)) / Math.Pow(10, precision),
            "floor" => Math.Floor(x * Math.Pow(10, precision)) / Math.Pow(10, precision),
            _ => Math.Round(x, precision, MidpointRounding.AwayFromZero),
        };
    }

    /// <summary>Looks up a dotted attribute path (<c>function.name</c>, <c>items.0</c>) as filters do.</summary>
    public static object? Attribute(object? item, string path)
    {
        foreach (var part in path.Split('.'))
        {
            item = item switch
            {
                OrderedDictionary<string, object?> d => d.TryGetValue(part, out var v) ? v : Undefined.Instance,
                Namespace ns => ns.Attributes.TryGetValue(part, out var v) ? v : Undefined.Instance,
                List<object?> list when int.TryParse(part, out int i) && i >= 0 && i < list.Count => list[i],
                _ => Undefined.Instance,
            };
        }
        return item;
    }

    static IComparer<object?> Comparer(bool caseSensitive) =>
        Comparer<object?>.Create((x, y) => Values.Compare(x, y, caseSensitive));

    static IComparer<object?> Comparer(CallArguments a) => Comparer(a.GetBool(0, "case_sensitive", false));
}
