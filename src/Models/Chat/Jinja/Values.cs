using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rollout.Models.Chat.Jinja;

/// <summary>
/// Template values are plain CLR objects, as Python's are for Jinja: null (None), <see cref="Undefined"/>,
/// string, long, double, bool, <see cref="List{T}"/> of values, <see cref="OrderedDictionary{TKey,TValue}"/>
/// (a mapping, keeping JSON order), <see cref="Namespace"/> and <see cref="Function"/>.
/// </summary>
internal static class Values
{
    public static bool IsTruthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        OrderedDictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>What <c>{{ value }}</c> prints: Python's <c>str()</c>.</summary>
    public static string ToText(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr()</c>, which is also how containers print their items.</summary>
    public static string Repr(object? value) => value switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        string s => ReprString(s),
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        OrderedDictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(e => ReprString(e.Key) + ": " + Repr(e.Value))) + "}",
        Namespace => "<Namespace>",
        _ => "<function>",
    };

    static string ReprString(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\\' => "\\\\",
                _ when c == quote => "\\" + c,
                _ => c.ToString(),
            });
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>Python's float repr: shortest round-trip digits, always with a dot or exponent.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("F1", CultureInfo.InvariantCulture);
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E');
        if (e < 0) return r;
        string mantissa = r[..e];
        int exponent = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        return $"{mantissa}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
    }

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        Namespace => "Namespace",
        _ => "function",
    };

    public static bool AreEqual(object? a, object? b) => (a, b) switch
    {
        (null, null) or (Undefined, Undefined) => true,
        (long x, long y) => x == y,
        (long or double, long or double) => Convert.ToDouble(a, CultureInfo.InvariantCulture) == Convert.ToDouble(b, CultureInfo.InvariantCulture),
        (string x, string y) => x == y,
        (bool x, bool y) => x == y,
        (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => AreEqual(p.First, p.Second)),
        (OrderedDictionary<string, object?> x, OrderedDictionary<string, object?> y) =>
            x.Count == y.Count && x.All(e => y.TryGetValue(e.Key, out var v) && AreEqual(e.Value, v)),
        _ => ReferenceEquals(a, b),
    };

    /// <summary>Orders numbers with numbers and strings with strings; anything else is an error, as in Python.</summary>
    public static int Compare(object? a, object? b, bool caseSensitive = true) => (a, b) switch
    {
        (long x, long y) => x.CompareTo(y),
        (long or double or bool, long or double or bool) => ToDouble(a).CompareTo(ToDouble(b)),
        (string x, string y) => caseSensitive
            ? string.CompareOrdinal(x, y)
            : string.CompareOrdinal(x.ToLowerInvariant(), y.ToLowerInvariant()),
        _ => throw new TemplateRuntimeError($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'"),
    };

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeError($"expected a number, got '{TypeName(value)}'"),
    };

    /// <summary>Converts caller data (JSON, strings, numbers, template values) into template values.</summary>
    public static object? FromClr(object? value) => value switch
    {
        null => null,
        string or bool or long or double or Undefined or Namespace or Function => value,
        List<object?> or OrderedDictionary<string, object?> => value,
        int i => (long)i,
        float f => (double)f,
        decimal m => (double)m,
        JsonElement e => FromJson(e),
        JsonNode n => FromJson(JsonSerializer.SerializeToElement(n)),
        _ => throw new ArgumentException($"A chat template variable cannot be a {value.GetType().Name}; use JSON, a string, a number or a bool"),
    };

    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out long l) ? (object)l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => ToDictionary(element.EnumerateObject().Select(p => (p.Name, FromJson(p.Value)))),
        _ => null,
    };

    public static OrderedDictionary<string, object?> ToDictionary(IEnumerable<(string Key, object? Value)> entries)
    {
        var dict = new OrderedDictionary<string, object?>();
        foreach (var (key, value) in entries) dict[key] = value;
        return dict;
    }

    /// <summary>The items a <c>for</c> loop or a sequence filter walks: list items, mapping keys, string characters.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        List<object?> list => list,
        OrderedDictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        string s => Text.CodePoints(s),
        Undefined => [],
        _ => throw new TemplateRuntimeError($"'{TypeName(value)}' object is not iterable"),
    };
}

/// <summary>A missing variable, key or attribute: empty when printed, false when tested.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new();

    Undefined() { }
}

/// <summary>The object <c>namespace()</c> returns: the one value templates may mutate, across loop scopes.</summary>
internal sealed class Namespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new();
}

/// <summary>A callable value: a global such as <c>raise_exception</c>, a bound string method, or a macro.</summary>
internal delegate object? Function(CallArguments arguments);

/// <summary>A template-level error without a position; the evaluator adds the position of the expression.</summary>
internal sealed class TemplateRuntimeError(string message) : Exception(message);
