using Rollout.Models.Configuration;
using Rollout.Models.Tokenization;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>
/// Writes a Llama model given under its Hugging Face tensor names as a llama.cpp-loadable GGUF v3 file:
/// llama-architecture metadata, the SentencePiece vocabulary, and the tensors renamed, with q and k
/// rows reordered for llama.cpp's RoPE as its own converter does.
/// </summary>
public static class GgufLlamaWriter
{
    /// <summary>Writes <paramref name="hfTensors"/> (CPU tensors, HF names and shapes) as GGUF to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">
    /// The configuration is not a plain Llama that GGUF metadata can express, the vocabulary size differs
    /// from <see cref="ModelConfig.VocabSize"/>, a tensor name is not a Llama parameter, or
    /// <c>lm_head.weight</c> is missing from an untied model.
    /// </exception>
    public static void Write(string path, ModelConfig config, IReadOnlyDictionary<string, torch.Tensor> hfTensors, SentencePieceVocabulary vocab)
    {
        config.Validate();
        CheckExpressible(config, vocab);
        if (!config.TieWordEmbeddings && !hfTensors.ContainsKey("lm_head.weight"))
            throw new ArgumentException("lm_head.weight is missing and the configuration does not tie embeddings", nameof(hfTensors));

        var writer = new GgufWriter();
        AddModelMetadata(writer, config);
        AddVocabulary(writer, vocab);

        using var scope = torch.NewDisposeScope();
        foreach (var (hfName, tensor) in hfTensors)
        {
            // A tied model stores no output matrix; llama.cpp then reuses token_embd, as the HF model does.
            if (hfName == "lm_head.weight" && config.TieWordEmbeddings) continue;
            string ggufName = LlamaGgufLayout.ToGguf(hfName)
                ?? throw new ArgumentException($"'{hfName}' is not a Llama parameter name", nameof(hfTensors));
            var stored = LlamaGgufLayout.RopeHeads(ggufName, config.NumAttentionHeads, config.NumKeyValueHeads) is { } heads
                ? LlamaGgufLayout.ToInterleaved(tensor, heads)
                : tensor;
            // llama.cpp's converter keeps norm weights and biases in F32, and its kernels expect that.
            if (stored.Dimensions == 1 && stored.dtype != torch.ScalarType.Float32) stored = stored.to_type(torch.ScalarType.Float32);
            writer.AddTensor(ggufName, stored);
        }
        writer.Write(path);
    }

    static void CheckExpressible(ModelConfig config, SentencePieceVocabulary vocab)
    {
        string? problem = config switch
        {
            { Architecture: not "LlamaForCausalLM" } => $"architecture {config.Architecture}",
            { QkNorm: true } => "q/k norms",
            { SlidingWindow: not null } => "sliding-window attention",
            { RopeScaling.Type: not "linear" } => $"{config.RopeScaling!.Type} RoPE scaling",
            _ => null,
        };
        if (problem is not null) throw new ArgumentException($"GGUF llama metadata cannot express {problem}", nameof(config));
        if (vocab.Tokens.Count != config.VocabSize)
            throw new ArgumentException($"the vocabulary has {vocab.Tokens.Count} tokens but the model {config.VocabSize}", nameof(vocab));
    }

    static void AddModelMetadata(GgufWriter writer, ModelConfig config)
    {
        writer.AddMetadata("general.architecture", "llama");
        writer.AddMetadata("general.name", "rollout");
        writer.AddMetadata("llama.vocab_size", (uint)config.VocabSize);
        writer.AddMetadata("llama.context_length", (uint)config.MaxPositionEmbeddings);
        writer.AddMetadata("llama.embedding_length", (uint)config.HiddenSize);
        writer.AddMetadata("llama.block_count", (uint)config.NumHiddenLayers);
        writer.AddMetadata("llama.feed_forward_length", (uint)config.IntermediateSize);
        writer.AddMetadata("llama.attention.head_count", (uint)config.NumAttentionHeads);
        writer.AddMetadata("llama.attention.head_count_kv", (uint)config.NumKeyValueHeads);
        if (config.HeadDim * config.NumAttentionHeads != config.HiddenSize)
        {
            writer.AddMetadata("llama.attention.key_length", (uint)config.HeadDim);
            writer.AddMetadata("llama.attention.value_length", (uint)config.HeadDim);
        }
        writer.AddMetadata("llama.rope.dimension_count", (uint)config.HeadDim);
        writer.AddMetadata("llama.rope.freq_base", (float)config.RopeTheta);
        writer.AddMetadata("llama.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        if (config.RopeScaling is { } scaling)
        {
            writer.AddMetadata("llama.rope.scaling.type", scaling.Type);
            writer.AddMetadata("llama.rope.scaling.factor", (float)scaling.Factor);
        }
    }

    static void AddVocabulary(GgufWriter writer, SentencePieceVocabulary vocab)
    {
        writer.AddMetadata("tokenizer.ggml.model", "llama");
        writer.AddMetadata("tokenizer.ggml.tokens", vocab.Tokens.ToArray());
        writer.AddMetadata("tokenizer.ggml.scores", vocab.Scores.ToArray());
        writer.AddMetadata("tokenizer.ggml.token_type", vocab.Types.Select(t => (int)t).ToArray());
        writer.AddMetadata("tokenizer.ggml.bos_token_id", (uint)vocab.BosTokenId);
        writer.AddMetadata("tokenizer.ggml.eos_token_id", (uint)vocab.EosTokenId);
        writer.AddMetadata("tokenizer.ggml.unknown_token_id", (uint)vocab.UnknownTokenId);
        writer.AddMetadata("tokenizer.ggml.add_bos_token", vocab.AddBos);
        writer.AddMetadata("tokenizer.ggml.add_eos_token", vocab.AddEos);
        writer.AddMetadata("tokenizer.ggml.add_space_prefix", vocab.AddSpacePrefix);
        if (vocab.ChatTemplate is { } template) writer.AddMetadata("tokenizer.chat_template", template);
    }
}
