using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rollout.Tests.Server;

/// <summary>
/// A strict reader of the Prometheus text exposition format (0.0.4): <c># HELP</c> and <c># TYPE</c>
/// comments, and <c>name{label="value",...} value</c> samples whose family a TYPE line declared first.
/// Anything else (other comments, blank lines, timestamps, a value that is not a number, a family
/// declared twice, a sample repeated) is a <see cref="FormatException"/> naming the line, so a test that
/// reads /metrics through it also checks that scrapers can read it.
/// </summary>
internal sealed partial class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public IReadOnlyDictionary<string, string> Types { get; }
    public IReadOnlyList<Sample> Samples { get; }

    PrometheusText(Dictionary<string, string> types, List<Sample> samples)
    {
        Types = types;
        Samples = samples;
    }

    /// <summary>The value of the one sample of <paramref name="name"/> with exactly these labels; 0 when there is none (a labelled counter not yet touched).</summary>
    public double Value(string name, params (string Name, string Value)[] labels)
    {
        var matches = Samples.Where(s => s.Name == name && s.Labels.Count == labels.Length
                                         && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).ToList();
        Assert.True(matches.Count <= 1, $"{matches.Count} samples of {name} with those labels");
        return matches.Count == 0 ? 0 : matches[0].Value;
    }

    public static PrometheusText Parse(string text)
    {
        var types = new Dictionary<string, string>();
        var samples = new List<Sample>();
        var seen = new HashSet<string>();
        if (!text.EndsWith('\n')) throw new FormatException("the exposition does not end with a newline");
        string[] lines = text[..^1].Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            string where = $"line {i + 1} '{line}'";
            if (line.StartsWith('#'))
            {
                var comment = CommentLine().Match(line);
                if (!comment.Success) throw new FormatException($"{where}: only # HELP NAME TEXT and # TYPE NAME TYPE comments are allowed");
                string family = comment.Groups["name"].Value;
                if (comment.Groups["kind"].Value == "TYPE")
                {
                    string type = comment.Groups["rest"].Value;
                    if (type is not ("counter" or "gauge" or "histogram" or "summary" or "untyped")) throw new FormatException($"{where}: unknown type '{type}'");
                    if (!types.TryAdd(family, type)) throw new FormatException($"{where}: {family} is declared twice");
                    if (samples.Any(s => FamilyOf(s.Name, types) == family)) throw new FormatException($"{where}: TYPE after {family}'s samples");
                }
                continue;
            }
            var sample = SampleLine().Match(line);
            if (!sample.Success) throw new FormatException($"{where}: not a sample line NAME{{LABELS}} VALUE");
            string name = sample.Groups["name"].Value;
            var labels = ParseLabels(sample.Groups["labels"].Value, where);
            double value = ParseValue(sample.Groups["value"].Value, where);
            string owner = FamilyOf(name, types) ?? throw new FormatException($"{where}: no # TYPE line declares {name}");
            if (types[owner] == "histogram" && name == owner + "_bucket" && !labels.ContainsKey("le"))
                throw new FormatException($"{where}: a histogram bucket without le");
            string key = name + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!seen.Add(key)) throw new FormatException($"{where}: {key} repeats");
            samples.Add(new Sample(name, labels, value));
        }
        return new PrometheusText(types, samples);
    }

    /// <summary>The declared family a sample belongs to: its own name, or a histogram's or summary's with its suffix.</summary>
    static string? FamilyOf(string name, Dictionary<string, string> types)
    {
        if (types.ContainsKey(name)) return name;
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
            string family = name[..^suffix.Length];
            if (types.TryGetValue(family, out var type) && (type == "histogram" || (type == "summary" && suffix != "_bucket"))) return family;
        }
        return null;
    }

    static Dictionary<string, string> ParseLabels(string body, string where)
    {
        var labels = new Dictionary<string, string>();
        int i = 0;
        while (i < body.Length)
        {
            var name = LabelName().Match(body, i);
            if (!name.Success || name.Index != i) throw new FormatException($"{where}: bad label name at {i}");
            i += name.Length;
            if (i + 1 >= body.Length || body[i] != '=' || body[i + 1] != '"') throw new FormatException($"{where}: label {name.Value} lacks =\"");
            i += 2;
            var value = new StringBuilder();
            while (true)
            {
                if (i >= body.Length) throw new FormatException($"{where}: unterminated value of {name.Value}");
                char c = body[i++];
                if (c == '"') break;
                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }
                if (i >= body.Length) throw new FormatException($"{where}: a dangling escape in {name.Value}");
                value.Append(body[i++] switch
                {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    var other => throw new FormatException($"{where}: unknown escape \\{other} in {name.Value}"),
                });
            }
            if (!labels.TryAdd(name.Value, value.ToString())) throw new FormatException($"{where}: label {name.Value} repeats");
            if (i == body.Length) break;
            if (body[i] != ',') throw new FormatException($"{where}: expected , after label {name.Value}");
            i++;
        }
        return labels;
    }

    static double ParseValue(string text, string where) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when NumberLiteral().IsMatch(text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => throw new FormatException($"{where}: the value '{text}' is not a number"),
    };

    [GeneratedRegex(@"^# (?<kind>HELP|TYPE) (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?<rest>.*)$")]
    private static partial Regex CommentLine();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^\n]*)\})? (?<value>\S+)$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"[a-zA-Z_][a-zA-Z0-9_]*")]
    private static partial Regex LabelName();

    [GeneratedRegex(@"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")]
    private static partial Regex NumberLiteral();
}
