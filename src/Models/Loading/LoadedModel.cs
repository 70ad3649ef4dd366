using Rollout.Models.Configuration;
using Rollout.Models.Tokenization;

namespace Rollout.Models.Loading;

/// <summary>Everything needed to run one model: its config, module with weights, tokenizer and stop ids.</summary>
public sealed class LoadedModel : IDisposable
{
    internal LoadedModel(string source, TransformerModel model, ITextTokenizer? tokenizer, GenerationConfig generation)
    {
        Source = source;
        Model = model;
        Tokenizer = tokenizer;
        Generation = generation;
        StopTokenIds = generation.EosTokenIds
            .Concat(model.Config.EosTokenIds)
            .Concat(tokenizer?.EosTokenIds ?? [])
            .Distinct().Order().ToArray();
    }

    /// <summary>The directory or file the model came from.</summary>
    public string Source { get; }

    /// <summary>The model's configuration.</summary>
    public ModelConfig Config => Model.Config;

    /// <summary>The module, weights loaded.</summary>
    public TransformerModel Model { get; }

    /// <summary>The tokenizer, or null when the model directory has none.</summary>
    public ITextTokenizer? Tokenizer { get; }

    /// <summary>generation_config.json (empty when absent).</summary>
    public GenerationConfig Generation { get; }

    /// <summary>Ids that end generation: the union of the generation config's, the model config's and the tokenizer's EOS ids.</summary>
    public IReadOnlyList<int> StopTokenIds { get; }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
