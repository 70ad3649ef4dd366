using System.Text;

namespace Rollout.Models.Chat.Jinja;

/// <summary>Python's string operations where .NET's differ (strip with characters, split, title).</summary>
internal static class Text
{
    /// <summary><c>str.strip(chars)</c>: whitespace when <paramref name="chars"/> is null, else exactly those characters.</summary>
    public static string Strip(string s, string? chars, bool start, bool end)
    {
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : chars.Contains;
        int from = 0, to = s.Length;
        if (start) while (from < to && strip(s[from])) from++;
        if (end) while (to > from && strip(s[to - 1])) to--;
        return s[from..to];
    }

    /// <summary><c>str.split(sep, maxsplit)</c>: on runs of whitespace when <paramref name="separator"/> is null.</summary>
    public static List<object?> Split(string s, string? separator, long maxSplit)
    {
        if (separator is "") throw new TemplateRuntimeError("empty separator");
        var parts = new List<object?>();
        if (separator is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i == s.Length) return parts;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..].TrimEnd());
                    return parts;
                }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
        }
        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    public static string Replace(string s, string oldValue, string newValue, long count)
    {
        if (count < 0) return oldValue.Length == 0 ? InsertEverywhere(s, newValue) : s.Replace(oldValue, newValue, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int from = 0;
        for (long done = 0; done < count && oldValue.Length > 0; done++)
        {
            int at = s.IndexOf(oldValue, from, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, from, at - from).Append(newValue);
            from = at + oldValue.Length;
        }
        return sb.Append(s, from, s.Length - from).ToString();
    }

    static string InsertEverywhere(string s, string insert) =>
        insert + string.Concat(s.Select(c => c + insert));

    public static int Count(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int count = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>
    /// A string as Python sees it: one item per code point, so that indexing, slicing and
    /// reversing never split a surrogate pair.
    /// </summary>
    public static List<object?> CodePoints(string s) => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList();

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Jinja's <c>title</c>: each word, after whitespace, '-', or an opening bracket, capitalized.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool separator = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }
        return sb.ToString();
    }
}
