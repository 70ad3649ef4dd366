namespace Rollout.Models.Configuration;

/// <summary>
/// The shape and numerics of a decoder-only transformer of the Llama family (Llama, Qwen2, Qwen3,
/// Mistral), parsed from a Hugging Face <c>config.json</c> or a GGUF file's metadata.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>The HF architecture name, e.g. <c>Qwen3ForCausalLM</c>.</summary>
    public required string Architecture { get; init; }
    /// <summary>Vocabulary size (rows of the embedding and of the LM head).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Width of the residual stream.</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Width of the SwiGLU MLP.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Number of decoder layers.</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary>Query heads.</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads (GQA when fewer than query heads).</summary>
    public required int NumKeyValueHeads { get; init; }
    /// <summary>Per-head width; explicit in Qwen3 and Mistral configs, else hidden / heads.</summary>
    public required int HeadDim { get; init; }
    /// <summary>Context length the model was configured for.</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary>RMSNorm epsilon.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>RoPE base.</summary>
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>RoPE rescaling, or null for none.</summary>
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>Whether the LM head reuses the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on the q, k and v projections (Qwen2; Llama's <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on the attention output projection (Llama's <c>attention_bias</c> covers it too).</summary>
    public bool OutputBias { get; init; }
    /// <summary>Bias on the MLP projections (Llama's <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }
    /// <summary>RMSNorm on each head's queries and keys before RoPE (Qwen3).</summary>
    public bool QkNorm { get; init; }
    /// <summary>Sliding attention window in tokens (each token sees this many, itself included), or null.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Per layer: whether it uses <see cref="SlidingWindow"/>. Empty means every layer does when a window is set.</summary>
    public IReadOnlyList<bool> SlidingWindowLayers { get; init; } = [];
    /// <summary>Number of outputs of a sequence-classification (reward) head.</summary>
    public int NumLabels { get; init; } = 1;
    /// <summary>BOS id from the config, if any.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>EOS ids from the config (one or several).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>PAD id from the config, if any.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>The dtype the checkpoint was saved in (<c>float32</c>, <c>bfloat16</c>, <c>float16</c>), if stated.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>The attention window of layer <paramref name="layer"/>, or null for full attention.</summary>
    public int? WindowOfLayer(int layer) =>
        SlidingWindow is null ? null
        : SlidingWindowLayers.Count == 0 || SlidingWindowLayers[layer] ? SlidingWindow
        : null;

    /// <summary>Checks that the dimensions fit together; throws <see cref="ModelConfigException"/> if not.</summary>
    public void Validate()
    {
        Require(VocabSize > 0, "vocab_size must be positive");
        Require(HiddenSize > 0, "hidden_size must be positive");
        Require(IntermediateSize > 0, "intermediate_size must be positive");
        Require(NumHiddenLayers > 0, "num_hidden_layers must be positive");
        Require(NumAttentionHeads > 0, "num_attention_heads must be positive");
        Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_key_value_heads ({NumKeyValueHeads}) must divide num_attention_heads ({NumAttentionHeads})");
        Require(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be a positive even number");
        Require(RmsNormEps > 0, "rms_norm_eps must be positive");
        Require(RopeTheta > 0, "rope_theta must be positive");
        Require(SlidingWindow is null or > 0, "sliding_window must be positive");
        Require(SlidingWindowLayers.Count == 0 || SlidingWindowLayers.Count == NumHiddenLayers,
            $"layer_types lists {SlidingWindowLayers.Count} layers but num_hidden_layers is {NumHiddenLayers}");
        Require(NumLabels > 0, "num_labels must be positive");
        if (RopeScaling is { } s)
        {
            Require(RopeScaling.SupportedTypes.Contains(s.Type),
                $"rope_scaling type '{s.Type}' is not supported (supported: {string.Join(", ", RopeScaling.SupportedTypes)})");
            Require(s.Factor > 0, "rope_scaling factor must be positive");
            if (s.Type == "llama3")
                Require(s.HighFreqFactor > s.LowFreqFactor && s.OriginalMaxPositionEmbeddings > 0,
                    "llama3 rope_scaling needs high_freq_factor > low_freq_factor and original_max_position_embeddings > 0");
        }
    }

    static void Require(bool condition, string message)
    {
        if (!condition) throw new ModelConfigException(message);
    }
}
