using System.Text.Json;
using System.Text.Json.Nodes;
using Rollout.Models.Architectures;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Configuration;
using Rollout.Models.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Testing;

/// <summary>
/// Writes tiny Hugging Face-format model directories with seeded random weights and a real
/// byte-level BPE tokenizer: config.json, generation_config.json, model.safetensors, tokenizer.json
/// and tokenizer_config.json. Tests, benchmarks and <c>rollout generate</c>'s default model use them;
/// they load through the same <see cref="Loading.ModelLoader"/> a user calls.
/// </summary>
public static class TinyModelFactory
{
    /// <summary>Writes a model of <paramref name="architecture"/> into <paramref name="directory"/> and returns its config.</summary>
    /// <exception cref="UnsupportedArchitectureException">The architecture is not implemented.</exception>
    public static ModelConfig Write(string directory, string architecture, TinyModelOptions? options = null)
    {
        options ??= new TinyModelOptions();
        Directory.CreateDirectory(directory);
        // Like real checkpoints (Qwen pads 151,646 ids to 151,936 rows), the model may have more rows
        // than the tokenizer has ids; the embedded corpus trains at most TokenizerVocabSize ids.
        TinyBpeTokenizerBuilder.Write(directory, Math.Min(options.VocabSize, TinyModelOptions.TokenizerVocabSize));
        var json = ConfigJson(architecture, options);
        File.WriteAllText(Path.Combine(directory, "config.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var config = HfConfigParser.Load(Path.Combine(directory, "config.json"));
        var tokenizer = HfTokenizer.Load(directory);
        var generation = new JsonObject { ["eos_token_id"] = new JsonArray(tokenizer.EosTokenIds.Select(i => (JsonNode)i).ToArray()) };
        File.WriteAllText(Path.Combine(directory, "generation_config.json"), generation.ToJsonString());
        using var model = TransformerModel.Create(config);
        Randomize(model, options.Seed, options.WeightScale);
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"),
            model.CheckpointTensors(),
            new Dictionary<string, string> { ["format"] = "pt" });
        return config;
    }

    /// <summary>
    /// Draws every parameter from a seeded generator at a scale where each matters (HF's default
    /// init leaves logits near uniform, hiding mistakes): matrices N(0, scale²/fan_in), norm weights
    /// 1 + N(0, 0.04), biases N(0, 0.04).
    /// </summary>
    public static void Randomize(TransformerModel model, long seed, double weightScale = 1.0)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in model.CheckpointTensors())
        {
            // One scope per parameter: a model of hundreds of MB would otherwise hold every draw until the end.
            using var scope = NewDisposeScope();
            var draw = randn(p.shape, ScalarType.Float32, generator: generator);
            var value = name.EndsWith("norm.weight", StringComparison.Ordinal) ? 1.0 + 0.2 * draw
                : p.dim() == 1 ? 0.2 * draw
                : draw * (weightScale / Math.Sqrt(p.shape[^1]));
            p.copy_(value);
        }
    }

    static JsonObject ConfigJson(string architecture, TinyModelOptions o)
    {
        if (!ArchitectureRegistry.IsSupported(architecture))
            throw new UnsupportedArchitectureException(architecture, ArchitectureRegistry.Supported);
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(architecture),
            ["vocab_size"] = o.VocabSize,
            ["hidden_size"] = o.HiddenSize,
            ["intermediate_size"] = o.IntermediateSize,
            ["num_hidden_layers"] = o.Layers,
            ["num_attention_heads"] = o.Heads,
            ["num_key_value_heads"] = o.KeyValueHeads,
            ["max_position_embeddings"] = o.MaxPositionEmbeddings,
            ["rms_norm_eps"] = 1e-6,
            ["hidden_act"] = "silu",
            ["torch_dtype"] = "float32",
            ["tie_word_embeddings"] = false,
            ["rope_theta"] = 10000.0,
        };
        if (architecture.StartsWith("Qwen2", StringComparison.Ordinal))
        {
            json["model_type"] = "qwen2";
            json["tie_word_embeddings"] = true;
            json["rope_theta"] = 1000000.0;
        }
        else if (architecture.StartsWith("Qwen3", StringComparison.Ordinal))
        {
            json["model_type"] = "qwen3";
            json["head_dim"] = 2 * o.HiddenSize / o.Heads;
            json["rope_theta"] = 1000000.0;
        }
        else if (architecture.StartsWith("Mistral", StringComparison.Ordinal))
        {
            json["model_type"] = "mistral";
            json["sliding_window"] = o.SlidingWindow;
        }
        else
        {
            json["model_type"] = "llama";
            json["rope_theta"] = 500000.0;
            json["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3",
                ["factor"] = 8.0,
                ["low_freq_factor"] = 1.0,
                ["high_freq_factor"] = 4.0,
                ["original_max_position_embeddings"] = 64,
            };
        }
        if (o.HeadDim is int headDim) json["head_dim"] = headDim;
        if (architecture.EndsWith("ForSequenceClassification", StringComparison.Ordinal)) json["num_labels"] = 1;
        return json;
    }
}

/// <summary>Shape and seed of a tiny test model.</summary>
public sealed record TinyModelOptions
{
    /// <summary>Most ids the tiny BPE tokenizer is trained to; a larger <see cref="VocabSize"/> pads the model's rows.</summary>
    public const int TokenizerVocabSize = 512;
    /// <summary>Rows of the embedding and LM head (the tokenizer has min(this, <see cref="TokenizerVocabSize"/>) ids).</summary>
    public int VocabSize { get; init; } = 512;
    /// <summary>Per-head width; null for the family's default (hidden / heads; twice that for Qwen3, to exercise an explicit head_dim).</summary>
    public int? HeadDim { get; init; }
    /// <summary>Residual width.</summary>
    public int HiddenSize { get; init; } = 64;
    /// <summary>MLP width.</summary>
    public int IntermediateSize { get; init; } = 128;
    /// <summary>Decoder layers.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Query heads.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Key/value heads.</summary>
    public int KeyValueHeads { get; init; } = 2;
    /// <summary>Context length.</summary>
    public int MaxPositionEmbeddings { get; init; } = 512;
    /// <summary>Mistral's attention window.</summary>
    public int SlidingWindow { get; init; } = 16;
    /// <summary>Seed of the weights.</summary>
    public long Seed { get; init; } = 1234;
    /// <summary>Multiplier of the matrices' standard deviation; larger gives peakier logits (wider top-1 margins).</summary>
    public double WeightScale { get; init; } = 1.0;
}
