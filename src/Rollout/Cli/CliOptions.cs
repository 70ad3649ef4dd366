using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace Rollout.Cli;

/// <summary>
/// Typed options whose parsers check the value themselves: System.CommandLine's own conversion
/// errors name the CLR type ("as expected type 'System.Int32'"), and its validators run after a
/// failed conversion and throw. Each parser here reports one message naming the flag and its range.
/// </summary>
internal static class CliOptions
{
    /// <summary>A boolean flag: present means true.</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>A text value; <paramref name="required"/> makes its absence a usage error.</summary>
    public static Option<string> Text(string name, string helpName, string description, bool required = false) =>
        new(name) { HelpName = helpName, Description = description, Required = required };

    /// <summary>An integer at least <paramref name="min"/> (any integer when null), <paramref name="fallback"/> when absent.</summary>
    public static Option<T> Integer<T>(string name, string helpName, string description, T fallback, T? min = null)
        where T : struct, IBinaryInteger<T>
    {
        string rule = min is { } m ? $"an integer >= {m}" : "an integer";
        return Parsed(name, helpName, description, fallback, rule, (string token, out T v) =>
            T.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out v) && (min is null || v >= min));
    }

    /// <summary>A finite number at least <paramref name="min"/>, <paramref name="fallback"/> when absent.</summary>
    public static Option<float> Real(string name, string helpName, string description, float fallback, float min) =>
        Parsed(name, helpName, description, fallback, $"a finite number >= {min.ToString(CultureInfo.InvariantCulture)}", (string token, out float v) =>
            float.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && float.IsFinite(v) && v >= min);

    /// <summary>One of <paramref name="choices"/> (the first is the default).</summary>
    public static Option<string> Choice(string name, string description, params string[] choices) =>
        Parsed(name, string.Join('|', choices), description, choices[0], OneOf(choices), (string token, out string v) => choices.Contains(v = token));

    /// <summary>Reads one token; false when it breaks the option's rule.</summary>
    public delegate bool TokenParser<T>(string token, out T value);

    /// <summary>
    /// An option whose single token <paramref name="parse"/> reads, <paramref name="fallback"/> when
    /// absent. A token it refuses is the error "NAME must be RULE, not 'TOKEN'".
    /// </summary>
    public static Option<T> Parsed<T>(string name, string helpName, string description, T fallback, string rule, TokenParser<T> parse) => new(name)
        {
            HelpName = helpName,
            Description = description,
            DefaultValueFactory = _ => fallback,
            CustomParser = result => Parse(result, name, fallback, rule, parse),
        };

    static T Parse<T>(ArgumentResult result, string name, T fallback, string rule, TokenParser<T> parse)
    {
        // Missing and repeated values are arity errors System.CommandLine reports itself.
        if (result.Tokens.Count != 1) return fallback;
        string token = result.Tokens[0].Value;
        if (parse(token, out T value)) return value;
        result.AddError($"{name} must be {rule}, not '{token}'");
        return fallback;
    }

    static string OneOf(string[] choices) =>
        choices.Length == 1 ? choices[0] : $"{string.Join(", ", choices[..^1])} or {choices[^1]}";
}
