using System.Globalization;
using System.Text;

namespace Rollout.Models.Chat.Jinja;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it: Python's <c>json.dumps</c> with
/// ensure_ascii=False by default, so non-ASCII text stays as written and nothing is HTML-escaped.
/// </summary>
internal sealed class JsonWriter
{
    readonly StringBuilder _sb = new();
    readonly string? _indent;
    readonly string _itemSeparator;
    readonly string _keySeparator;
    readonly bool _sortKeys;
    readonly bool _ensureAscii;

    JsonWriter(string? indent, string? itemSeparator, string? keySeparator, bool sortKeys, bool ensureAscii)
    {
        _indent = indent;
        // Python drops the space after "," when indenting, since the newline separates items.
        _itemSeparator = itemSeparator ?? (indent is null ? ", " : ",");
        _keySeparator = keySeparator ?? ": ";
        _sortKeys = sortKeys;
        _ensureAscii = ensureAscii;
    }

    public static string Serialize(object? value, CallArguments arguments)
    {
        string? indent = arguments.Get(0, "indent") switch
        {
            null => null,
            long n => new string(' ', (int)n),
            string s => s,
            var other => throw new TemplateRuntimeError($"tojson() indent must be an integer or string, got '{Values.TypeName(other)}'"),
        };
        string? itemSeparator = null, keySeparator = null;
        if (arguments.Get(-1, "separators") is List<object?> { Count: 2 } separators)
        {
            itemSeparator = separators[0] as string;
            keySeparator = separators[1] as string;
        }
        var writer = new JsonWriter(indent, itemSeparator, keySeparator,
            arguments.GetBool(-1, "sort_keys", false), arguments.GetBool(-1, "ensure_ascii", false));
        writer.Write(value, 0);
        return writer._sb.ToString();
    }

    void Write(object? value, int depth)
    {
        switch (value)
        {
            case null: _sb.Append("null"); break;
            case bool b: _sb.Append(b ? "true" : "false"); break;
            case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: _sb.Append(double.IsFinite(d) ? Values.FormatFloat(d) : d > 0 ? "Infinity" : d < 0 ? "-Infinity" : "NaN"); break;
            case string s: WriteString(s); break;
            case List<object?> list:
                WriteContainer('[', ']', list.Count, depth, list.Select<object?, Action>(item => () => Write(item, depth + 1)));
                break;
            case OrderedDictionary<string, object?> dict:
                WriteMapping(dict, depth);
                break;
            case Namespace ns:
                WriteMapping(ns.Attributes, depth);
                break;
            default:
                throw new TemplateRuntimeError($"Object of type {Values.TypeName(value)} is not JSON serializable");
        }
    }

    void WriteMapping(OrderedDictionary<string, object?> dict, int depth)
    {
        IEnumerable<KeyValuePair<string, object?>> entries = _sortKeys ? dict.OrderBy(e => e.Key, StringComparer.Ordinal) : dict;
        WriteContainer('{', '}', dict.Count, depth, entries.Select<KeyValuePair<string, object?>, Action>(e => () =>
        {
            WriteString(e.Key);
            _sb.Append(_keySeparator);
            Write(e.Value, depth + 1);
        }));
    }

    void WriteContainer(char open, char close, int count, int depth, IEnumerable<Action> items)
    {
        _sb.Append(open);
        if (count == 0)
        {
            _sb.Append(close);
            return;
        }
        bool first = true;
        foreach (var item in items)
        {
            if (!first) _sb.Append(_itemSeparator);
            first = false;
            NewLine(depth + 1);
            item();
        }
        NewLine(depth);
        _sb.Append(close);
    }

    void NewLine(int depth)
    {
        if (_indent is null) return;
        _sb.Append('\n');
        for (int i = 0; i < depth; i++) _sb.Append(_indent);
    }

    void WriteString(string s)
    {
        _sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': _sb.Append("\\\""); break;
                case '\\': _sb.Append("\\\\"); break;
                case '\n': _sb.Append("\\n"); break;
                case '\r': _sb.Append("\\r"); break;
                case '\t': _sb.Append("\\t"); break;
                case '\b': _sb.Append("\\b"); break;
                case '\f': _sb.Append("\\f"); break;
                case < ' ':
                    _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                case > '\u007f' when _ensureAscii:
                    _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default: _sb.Append(c); break;
            }
        }
        _sb.Append('"');
    }
}
