using System.Text.Json.Nodes;
using Rollout.Models;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Examples.Rlhf;

/// <summary>
/// The policy the loop trains: a small Qwen3-style decoder, the same module code the engine serves,
/// here with gradients on. Its first checkpoint is written to disk for the engine to load.
/// </summary>
internal static class Policy
{
    public static string ConfigJson(int hidden, int layers) => new JsonObject
    {
        ["architectures"] = new JsonArray("Qwen3ForCausalLM"),
        ["model_type"] = "qwen3",
        ["vocab_size"] = AdditionTask.VocabSize,
        ["hidden_size"] = hidden,
        ["intermediate_size"] = 3 * hidden,
        ["num_hidden_layers"] = layers,
        ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 2,
        ["head_dim"] = hidden / 4,
        ["max_position_embeddings"] = 64,
        ["rms_norm_eps"] = 1e-6,
        ["hidden_act"] = "silu",
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = false,
        ["torch_dtype"] = "float32",
    }.ToJsonString();

    /// <summary>A freshly initialised policy: matrices N(0, 0.02²) as HF initialises them, norms at 1.</summary>
    public static CausalLanguageModel Create(ModelConfig config, long seed, ModelOptions options)
    {
        var model = (CausalLanguageModel)TransformerModel.Create(config, options);
        var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.Parameters())
        {
            using var scope = NewDisposeScope();
            if (p.dim() == 1) p.fill_(1.0);
            else p.copy_(randn(p.shape, ScalarType.Float32, generator: generator) * 0.02);
        }
        return model;
    }

    /// <summary>Writes the policy as an HF checkpoint the engine loads (config, weights, EOS).</summary>
    public static void Save(CausalLanguageModel model, string configJson, string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), configJson);
        File.WriteAllText(Path.Combine(directory, "generation_config.json"), $"{{\"eos_token_id\": [{AdditionTask.Eos}]}}");
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), model.CheckpointTensors(), new Dictionary<string, string> { ["format"] = "pt" });
    }
}
