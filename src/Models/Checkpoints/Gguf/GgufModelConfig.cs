using Rollout.Models.Architectures;
using Rollout.Models.Configuration;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>Reads a <see cref="ModelConfig"/> from the metadata of a llama-architecture GGUF file.</summary>
public static class GgufModelConfig
{
    const string Arch = "llama";

    /// <summary>The GGUF architectures this build reads.</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } = [Arch];

    /// <summary>The configuration <paramref name="file"/> describes, validated.</summary>
    /// <exception cref="UnsupportedArchitectureException"><c>general.architecture</c> is not <c>llama</c>.</exception>
    /// <exception cref="ModelConfigException">A required key is missing, or the model uses a feature this build lacks.</exception>
    /// <exception cref="CheckpointFormatException">A metadata value has the wrong type.</exception>
    public static ModelConfig From(GgufFile file)
    {
        string architecture = file.GetString("general.architecture")
            ?? throw new ModelConfigException($"{file.Path}: GGUF metadata lacks general.architecture");
        if (architecture != Arch) throw new UnsupportedArchitectureException(architecture, SupportedArchitectures);
        if (file.GetInteger($"{Arch}.expert_count") is > 0 and var experts)
            throw new ModelConfigException($"{file.Path}: mixture-of-experts llama models ({Arch}.expert_count = {experts}) are not supported");

        int hidden = Required(file, "embedding_length");
        int heads = Required(file, "attention.head_count");
        if (heads <= 0) throw new ModelConfigException($"{file.Path}: {Arch}.attention.head_count must be positive");
        int headDim = Optional(file, "attention.key_length") ?? hidden / heads;
        if (Optional(file, "rope.dimension_count") is { } ropeDims && ropeDims != headDim)
            throw new ModelConfigException($"{file.Path}: RoPE over {ropeDims} of {headDim} head dimensions (partial rotary) is not supported");
        var vocab = file.GetStringArray("tokenizer.ggml.tokens")?.Length
            ?? Optional(file, "vocab_size")
            ?? (int?)file.FindTensor("token_embd.weight")?.Dimensions[^1]
            ?? throw new ModelConfigException($"{file.Path}: GGUF metadata gives no vocabulary size");

        var config = new ModelConfig
        {
            Architecture = "LlamaForCausalLM",
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = Required(file, "feed_forward_length"),
            NumHiddenLayers = Required(file, "block_count"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = Optional(file, "attention.head_count_kv") ?? heads,
            HeadDim = headDim,
            MaxPositionEmbeddings = Required(file, "context_length"),
            RmsNormEps = file.GetFloat($"{Arch}.attention.layer_norm_rms_epsilon")
                ?? throw new ModelConfigException($"{file.Path}: GGUF metadata lacks {Arch}.attention.layer_norm_rms_epsilon"),
            RopeTheta = file.GetFloat($"{Arch}.rope.freq_base") ?? 10000.0,
            RopeScaling = RopeScaling(file),
            TieWordEmbeddings = file.FindTensor("output.weight") is null,
            QkvBias = file.FindTensor("blk.0.attn_q.bias") is not null,
            OutputBias = file.FindTensor("blk.0.attn_output.bias") is not null,
            MlpBias = file.FindTensor("blk.0.ffn_up.bias") is not null,
            BosTokenId = ToInt(file, "tokenizer.ggml.bos_token_id"),
            EosTokenIds = ToInt(file, "tokenizer.ggml.eos_token_id") is { } eos ? [eos] : [],
            PadTokenId = ToInt(file, "tokenizer.ggml.padding_token_id"),
            TorchDtype = file.FindTensor("token_embd.weight")?.TypeName switch
            {
                "F32" => "float32",
                "F16" => "float16",
                "BF16" => "bfloat16",
                _ => null,
            },
        };
        config.Validate();
        return config;
    }

    static RopeScaling? RopeScaling(GgufFile file)
    {
        string? type = file.GetString($"{Arch}.rope.scaling.type");
        // Files from before rope.scaling.type stated linear scaling as rope.scale_linear.
        double? factor = file.GetFloat($"{Arch}.rope.scaling.factor") ?? file.GetFloat($"{Arch}.rope.scale_linear");
        type ??= factor is not null ? "linear" : null;
        return type switch
        {
            null or "none" => null,
            "linear" when factor is > 0 and not 1.0 => new RopeScaling("linear", factor.Value),
            "linear" => null,
            _ => throw new ModelConfigException($"{file.Path}: GGUF RoPE scaling '{type}' is not supported (supported: linear)"),
        };
    }

    static int Required(GgufFile file, string key) =>
        Optional(file, key) ?? throw new ModelConfigException($"{file.Path}: GGUF metadata lacks {Arch}.{key}");

    static int? Optional(GgufFile file, string key) => ToInt(file, $"{Arch}.{key}");

    static int? ToInt(GgufFile file, string key) => file.GetInteger(key) switch
    {
        null => null,
        >= int.MinValue and <= int.MaxValue and var v => (int)v,
        var v => throw new ModelConfigException($"{file.Path}: GGUF metadata {key} = {v} is out of range"),
    };
}
