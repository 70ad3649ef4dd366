using System.Text.Json;
using Rollout.Models.Configuration;

namespace Rollout.Models.Architectures;

/// <summary>
/// The architectures this build runs, by their Hugging Face names, and what each family implies
/// beyond its config.json (Qwen2's qkv bias, Qwen3's q/k norms). Adding a family: see
/// docs/adding-a-model-architecture.md.
/// </summary>
public static class ArchitectureRegistry
{
    /// <summary>Family-specific reading of config.json, applied after the shared fields.</summary>
    internal delegate ModelConfig FamilyRule(ModelConfig config, JsonElement json);

    static readonly Dictionary<string, FamilyRule> Families = new()
    {
        ["Llama"] = (c, j) => c with
        {
            QkvBias = HfConfigParser.Bool(j, "attention_bias") ?? false,
            OutputBias = HfConfigParser.Bool(j, "attention_bias") ?? false,
            MlpBias = HfConfigParser.Bool(j, "mlp_bias") ?? false,
            SlidingWindow = null,
        },
        ["Mistral"] = (c, j) => c,
        ["Qwen2"] = (c, j) => c with { QkvBias = true, SlidingWindow = QwenWindow(c, j), SlidingWindowLayers = QwenWindowLayers(c, j) },
        ["Qwen3"] = (c, j) => c with
        {
            QkvBias = HfConfigParser.Bool(j, "attention_bias") ?? false,
            OutputBias = HfConfigParser.Bool(j, "attention_bias") ?? false,
            QkNorm = true,
            SlidingWindow = QwenWindow(c, j),
            SlidingWindowLayers = QwenWindowLayers(c, j),
        },
    };

    static readonly Dictionary<string, ModelHead> Heads = new()
    {
        ["ForCausalLM"] = ModelHead.CausalLM,
        ["ForSequenceClassification"] = ModelHead.SequenceClassification,
    };

    /// <summary>Every supported architecture name.</summary>
    public static IReadOnlyList<string> Supported { get; } =
        Families.Keys.SelectMany(f => Heads.Keys.Select(h => f + h)).Order().ToArray();

    /// <summary>Whether <paramref name="architecture"/> is supported.</summary>
    public static bool IsSupported(string architecture) => TrySplit(architecture, out _, out _);

    /// <summary>The head an architecture name asks for.</summary>
    /// <exception cref="UnsupportedArchitectureException">The name is not supported.</exception>
    public static ModelHead HeadOf(string architecture) =>
        TrySplit(architecture, out _, out var head) ? head : throw new UnsupportedArchitectureException(architecture, Supported);

    internal static FamilyRule RuleOf(string architecture) =>
        TrySplit(architecture, out var family, out _) ? Families[family] : throw new UnsupportedArchitectureException(architecture, Supported);

    static bool TrySplit(string architecture, out string family, out ModelHead head)
    {
        foreach (var (suffix, h) in Heads)
        {
            if (architecture.EndsWith(suffix, StringComparison.Ordinal) && Families.ContainsKey(architecture[..^suffix.Length]))
            {
                family = architecture[..^suffix.Length];
                head = h;
                return true;
            }
        }
        family = "";
        head = default;
        return false;
    }

    // Qwen2/Qwen3 configs carry a sliding_window value even when use_sliding_window is false; only the
    // flag turns it on, and then only for layers from max_window_layers on (HF's layer_types rule).
    static int? QwenWindow(ModelConfig c, JsonElement j) =>
        HfConfigParser.Bool(j, "use_sliding_window") == true ? c.SlidingWindow : null;

    static IReadOnlyList<bool> QwenWindowLayers(ModelConfig c, JsonElement j)
    {
        if (c.SlidingWindowLayers.Count > 0 || HfConfigParser.Bool(j, "use_sliding_window") != true) return c.SlidingWindowLayers;
        int first = HfConfigParser.Int(j, "max_window_layers") ?? c.NumHiddenLayers;
        return Enumerable.Range(0, c.NumHiddenLayers).Select(i => i >= first).ToArray();
    }
}
