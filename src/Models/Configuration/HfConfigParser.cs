using System.Text.Json;
using Rollout.Models.Architectures;

namespace Rollout.Models.Configuration;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> into a <see cref="ModelConfig"/>. Accepts both the hub's
/// long-standing layout (<c>rope_theta</c>, <c>rope_scaling</c>) and the one transformers 5 writes
/// (<c>rope_parameters</c>, <c>layer_types</c>).
/// </summary>
public static class HfConfigParser
{
    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="ModelConfigException">The file is missing, is not JSON, or lacks a required field.</exception>
    /// <exception cref="UnsupportedArchitectureException">The architecture is not implemented.</exception>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ModelConfigException($"config.json not found: {path}");
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (ModelConfigException e) when (e is not UnsupportedArchitectureException)
        {
            throw new ModelConfigException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses the text of a config.json.</summary>
    public static ModelConfig Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var j = doc.RootElement;
            if (j.ValueKind != JsonValueKind.Object) throw new ModelConfigException("the top level must be a JSON object");
            string architecture = Architecture(j);
            var rule = ArchitectureRegistry.RuleOf(architecture);
            int hidden = RequiredInt(j, "hidden_size");
            int heads = RequiredInt(j, "num_attention_heads");
            if (heads <= 0) throw new ModelConfigException("num_attention_heads must be positive");
            var rope = Object(j, "rope_parameters");
            var config = new ModelConfig
            {
                Architecture = architecture,
                VocabSize = RequiredInt(j, "vocab_size"),
                HiddenSize = hidden,
                IntermediateSize = RequiredInt(j, "intermediate_size"),
                NumHiddenLayers = RequiredInt(j, "num_hidden_layers"),
                NumAttentionHeads = heads,
                NumKeyValueHeads = Int(j, "num_key_value_heads") ?? heads,
                HeadDim = Int(j, "head_dim") ?? hidden / heads,
                MaxPositionEmbeddings = Int(j, "max_position_embeddings") ?? 2048,
                RmsNormEps = Double(j, "rms_norm_eps") ?? 1e-6,
                RopeTheta = Double(j, "rope_theta") ?? (rope is { } r ? Double(r, "rope_theta") : null) ?? 10000.0,
                RopeScaling = Scaling(Object(j, "rope_scaling") ?? rope),
                TieWordEmbeddings = Bool(j, "tie_word_embeddings") ?? false,
                SlidingWindow = Int(j, "sliding_window"),
                SlidingWindowLayers = LayerTypes(j),
                NumLabels = Int(j, "num_labels") ?? LabelCount(j) ?? 1,
                BosTokenId = Int(j, "bos_token_id"),
                EosTokenIds = IntList(j, "eos_token_id"),
                PadTokenId = Int(j, "pad_token_id"),
                TorchDtype = String(j, "torch_dtype") ?? String(j, "dtype"),
            };
            string act = String(j, "hidden_act") ?? "silu";
            if (act != "silu") throw new ModelConfigException($"hidden_act '{act}' is not supported (supported: silu)");
            config = rule(config, j);
            config.Validate();
            return config;
        }
    }

    static string Architecture(JsonElement j)
    {
        if (!j.TryGetProperty("architectures", out var a) || a.ValueKind != JsonValueKind.Array || a.GetArrayLength() == 0
            || a[0].ValueKind != JsonValueKind.String)
            throw new ModelConfigException("'architectures' must list the model's architecture (e.g. [\"Qwen3ForCausalLM\"])");
        return a[0].GetString()!;
    }

    static RopeScaling? Scaling(JsonElement? s)
    {
        if (s is not { } e) return null;
        string type = String(e, "rope_type") ?? String(e, "type") ?? "default";
        if (type == "default") return null;
        if (!RopeScaling.SupportedTypes.Contains(type))
            throw new ModelConfigException($"rope_scaling type '{type}' is not supported (supported: {string.Join(", ", RopeScaling.SupportedTypes)})");
        double factor = Double(e, "factor") ?? throw new ModelConfigException($"rope_scaling of type '{type}' needs 'factor'");
        return type == "linear"
            ? new RopeScaling(type, factor)
            : new RopeScaling(type, factor,
                Double(e, "low_freq_factor") ?? 1.0,
                Double(e, "high_freq_factor") ?? 4.0,
                Int(e, "original_max_position_embeddings") ?? 8192);
    }

    static IReadOnlyList<bool> LayerTypes(JsonElement j)
    {
        if (!j.TryGetProperty("layer_types", out var a) || a.ValueKind != JsonValueKind.Array) return [];
        return a.EnumerateArray().Select(t => t.GetString() switch
        {
            "sliding_attention" => true,
            "full_attention" => false,
            var other => throw new ModelConfigException($"layer_types entry '{other}' is not supported (supported: full_attention, sliding_attention)"),
        }).ToArray();
    }

    static int? LabelCount(JsonElement j) =>
        j.TryGetProperty("id2label", out var m) && m.ValueKind == JsonValueKind.Object ? m.EnumerateObject().Count() : null;

    internal static JsonElement? Object(JsonElement j, string name) =>
        j.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    internal static string? String(JsonElement j, string name) =>
        j.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static bool? Bool(JsonElement j, string name) =>
        j.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => throw new ModelConfigException($"'{name}' must be true or false"),
        } : null;

    internal static int? Int(JsonElement j, string name)
    {
        if (!j.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
        throw new ModelConfigException($"'{name}' must be an integer, not {v.GetRawText()}");
    }

    internal static double? Double(JsonElement j, string name)
    {
        if (!j.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw new ModelConfigException($"'{name}' must be a number, not {v.GetRawText()}");
    }

    internal static IReadOnlyList<int> IntList(JsonElement j, string name)
    {
        if (!j.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.Array)
            return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int x) ? x
                : throw new ModelConfigException($"'{name}' must hold integers")).ToArray();
        return [Int(j, name)!.Value];
    }

    static int RequiredInt(JsonElement j, string name) =>
        Int(j, name) ?? throw new ModelConfigException($"'{name}' is required");
}
