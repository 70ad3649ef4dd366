using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Configuration;
using Rollout.Models.Tokenization;

namespace Rollout.Models.Loading;

/// <summary>
/// Loads a model from a Hugging Face directory (config.json, safetensors single or sharded,
/// tokenizer.json, generation_config.json) or from a GGUF file, into the same model classes.
/// </summary>
public static class ModelLoader
{
    /// <summary>Loads the model at <paramref name="path"/>.</summary>
    /// <exception cref="ModelLoadException">The path does not exist or is not a model.</exception>
    /// <exception cref="ModelConfigException">The configuration is malformed or unsupported.</exception>
    /// <exception cref="CheckpointFormatException">The weights are malformed or do not fit the configuration.</exception>
    public static LoadedModel Load(string path, ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        if (File.Exists(path))
        {
            if (!path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
                throw new ModelLoadException($"{path} is a file but not a .gguf model; pass a Hugging Face model directory or a .gguf file");
            return LoadGguf(path, options);
        }
        if (!Directory.Exists(path))
            throw new ModelLoadException($"model path not found: {path}");
        return LoadHfDirectory(path, options);
    }

    static LoadedModel LoadHfDirectory(string directory, ModelOptions options)
    {
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
            throw new ModelLoadException($"{directory} has no config.json: not a Hugging Face model directory");
        var config = HfConfigParser.Load(configPath);
        var generation = GenerationConfig.Load(Path.Combine(directory, "generation_config.json"));
        ITextTokenizer? tokenizer = File.Exists(Path.Combine(directory, "tokenizer.json")) ? TokenizerLoader.Load(directory) : null;
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        return new LoadedModel(directory, LoadWeights(config, checkpoint, options), tokenizer, generation);
    }

    static LoadedModel LoadGguf(string path, ModelOptions options)
    {
        using var file = GgufFile.Open(path);
        var config = GgufModelConfig.From(file);
        var tokenizer = SentencePieceTokenizer.FromGguf(file);
        using var checkpoint = new GgufCheckpoint(file);
        return new LoadedModel(path, LoadWeights(config, checkpoint, options), tokenizer, new GenerationConfig());
    }

    static TransformerModel LoadWeights(ModelConfig config, ICheckpointReader checkpoint, ModelOptions options)
    {
        var model = TransformerModel.Create(config, options);
        try
        {
            model.LoadWeights(checkpoint);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
