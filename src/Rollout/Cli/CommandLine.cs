namespace Rollout.Cli;

/// <summary>Options and positional arguments of one command, parsed from <c>--name value</c> pairs and flags.</summary>
internal sealed class CommandLine
{
    readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    readonly HashSet<string> _read = new(StringComparer.Ordinal);

    CommandLine(List<string> positional) => Positional = positional;

    public List<string> Positional { get; }

    /// <summary>Parses <paramref name="args"/>; <paramref name="flags"/> name the options that take no value.</summary>
    public static CommandLine Parse(IEnumerable<string> args, params string[] flags)
    {
        var line = new CommandLine([]);
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string a = e.Current;
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--")
            {
                line.Positional.Add(a);
                continue;
            }
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!flags.Contains(name))
            {
                if (!e.MoveNext()) throw new UsageException($"--{name} needs a value");
                value = e.Current;
            }
            if (!line._options.TryAdd(name, value)) throw new UsageException($"--{name} given twice");
        }
        return line;
    }

    public bool Flag(string name)
    {
        _read.Add(name);
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _read.Add(name);
        return _options.TryGetValue(name, out var v) ? v : null;
    }

    public int Int(string name, int fallback, int min = int.MinValue)
    {
        string? s = String(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out int v) || v < min)
            throw new UsageException($"--{name} must be an integer >= {min}, not '{s}'");
        return v;
    }

    public double Double(string name, double fallback, double min)
    {
        string? s = String(name);
        if (s is null) return fallback;
        if (!double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v)
            || !double.IsFinite(v) || v < min)
            throw new UsageException($"--{name} must be a number >= {min}, not '{s}'");
        return v;
    }

    /// <summary>Throws for options the command never asked about (typos should not pass silently).</summary>
    public void RejectUnknown()
    {
        var unknown = _options.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option --{unknown[0]}");
    }
}
