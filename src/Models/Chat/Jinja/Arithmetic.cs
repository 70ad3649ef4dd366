namespace Rollout.Models.Chat.Jinja;

/// <summary>Binary operators with Python's typing: ints stay ints, str + str only, list + list.</summary>
internal static class Arithmetic
{
    public static object? Apply(string op, object? left, object? right)
    {
        switch (op)
        {
            case "==": return Values.AreEqual(left, right);
            case "!=": return !Values.AreEqual(left, right);
            case "<": return Values.Compare(left, right) < 0;
            case ">": return Values.Compare(left, right) > 0;
            case "<=": return Values.Compare(left, right) <= 0;
            case ">=": return Values.Compare(left, right) >= 0;
            case "in": return Contains(right, left);
            case "not in": return !Contains(right, left);
            case "~": return Values.ToText(left) + Values.ToText(right);
        }
        switch (op, left, right)
        {
            case ("+", string a, string b): return a + b;
            case ("+", List<object?> a, List<object?> b): return a.Concat(b).ToList();
            case ("*", string s, long n): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
            case ("*", List<object?> list, long n): return Enumerable.Repeat(list, (int)Math.Max(0, n)).SelectMany(x => x).ToList();
            case (_, long or bool, long or bool):
                return Integers(op, Convert.ToInt64(left), Convert.ToInt64(right));
            case (_, long or double or bool, long or double or bool):
                return Floats(op, Values.ToDouble(left), Values.ToDouble(right));
        }
        if (left is Undefined || right is Undefined)
            throw new TemplateRuntimeError($"unsupported operand for {op}: a value is undefined");
        throw new TemplateRuntimeError($"unsupported operand type(s) for {op}: '{Values.TypeName(left)}' and '{Values.TypeName(right)}'");
    }

    static object Integers(string op, long a, long b) => op switch
    {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => b == 0 ? throw new TemplateRuntimeError("division by zero") : (double)a / b,
        "//" => b == 0 ? throw new TemplateRuntimeError("integer division by zero") : (long)Math.Floor((double)a / b),
        "%" => b == 0 ? throw new TemplateRuntimeError("integer modulo by zero") : ((a % b) + b) % b,
        "**" => b < 0 ? (object)Math.Pow(a, b) : (long)Math.Pow(a, b),
        _ => throw new TemplateRuntimeError($"unknown operator {op}"),
    };

    static object Floats(string op, double a, double b) => op switch
    {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => b == 0 ? throw new TemplateRuntimeError("float division by zero") : a / b,
        "//" => b == 0 ? throw new TemplateRuntimeError("float floor division by zero") : Math.Floor(a / b),
        "%" => b == 0 ? throw new TemplateRuntimeError("float modulo") : a - (b * Math.Floor(a / b)),
        "**" => Math.Pow(a, b),
        _ => throw new TemplateRuntimeError($"unknown operator {op}"),
    };

    /// <summary>Python's <c>item in container</c>: substring, list member, or mapping key.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new TemplateRuntimeError($"'in <string>' requires string as left operand, not '{Values.TypeName(item)}'"),
        List<object?> list => list.Any(x => Values.AreEqual(x, item)),
        OrderedDictionary<string, object?> d => item is string key && d.ContainsKey(key),
        Namespace ns => item is string key && ns.Attributes.ContainsKey(key),
        Undefined => false,
        _ => throw new TemplateRuntimeError($"argument of type '{Values.TypeName(container)}' is not iterable"),
    };
}
