namespace Rollout.Models.Chat.Jinja;

internal delegate bool Test(object? value, CallArguments arguments);

/// <summary>Jinja's tests, the right-hand side of <c>x is ...</c>.</summary>
internal static class Tests
{
    static readonly Dictionary<string, Test> All = new()
    {
        ["defined"] = (v, _) => v is not Undefined,
        ["undefined"] = (v, _) => v is Undefined,
        ["none"] = (v, _) => v is null,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["boolean"] = (v, _) => v is bool,
        ["string"] = (v, _) => v is string,
        ["number"] = (v, _) => v is long or double,
        ["integer"] = (v, _) => v is long,
        ["float"] = (v, _) => v is double,
        ["mapping"] = (v, _) => v is OrderedDictionary<string, object?>,
        ["iterable"] = (v, _) => v is string or List<object?> or OrderedDictionary<string, object?>,
        ["sequence"] = (v, _) => v is string or List<object?> or OrderedDictionary<string, object?>,
        ["callable"] = (v, _) => v is Function,
        ["lower"] = (v, _) => v is string s && s == s.ToLowerInvariant(),
        ["upper"] = (v, _) => v is string s && s == s.ToUpperInvariant(),
        ["odd"] = (v, _) => v is long l && l % 2 != 0,
        ["even"] = (v, _) => v is long l && l % 2 == 0,
        ["divisibleby"] = (v, a) => v is long l && a.Required(0, "num", "divisibleby") is long n && n != 0 && l % n == 0,
        ["equalto"] = (v, a) => Values.AreEqual(v, a.Required(0, "other", "equalto")),
        ["eq"] = (v, a) => Values.AreEqual(v, a.Required(0, "other", "eq")),
        ["=="] = (v, a) => Values.AreEqual(v, a.Required(0, "other", "==")),
        ["ne"] = (v, a) => !Values.AreEqual(v, a.Required(0, "other", "ne")),
        ["!="] = (v, a) => !Values.AreEqual(v, a.Required(0, "other", "!=")),
        ["in"] = (v, a) => Arithmetic.Contains(a.Required(0, "seq", "in"), v),
        ["sameas"] = (v, a) => a.Required(0, "other", "sameas") is var other && (ReferenceEquals(v, other) || (v is bool or null && Values.AreEqual(v, other))),
        ["gt"] = (v, a) => Values.Compare(v, a.Required(0, "other", "gt")) > 0,
        ["ge"] = (v, a) => Values.Compare(v, a.Required(0, "other", "ge")) >= 0,
        ["lt"] = (v, a) => Values.Compare(v, a.Required(0, "other", "lt")) < 0,
        ["le"] = (v, a) => Values.Compare(v, a.Required(0, "other", "le")) <= 0,
    };

    public static Test? Find(string name) => All.GetValueOrDefault(name);
}
