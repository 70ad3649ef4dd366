using Rollout.Models;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.Models.Configuration;
using Rollout.Models.Testing;
using Rollout.Models.Tokenization;
using static TorchSharp.torch;

namespace Rollout.Bench.Peer;

/// <summary>
/// Writes the GGUF files both engines of the peer benchmark load: llama architecture, GGUF v3, every
/// tensor F32, seeded random weights, and a synthetic SentencePiece vocabulary llama.cpp accepts
/// (<c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, the 256 byte tokens, then pieces <c>▁tok0</c>, <c>▁tok1</c>, ...).
/// </summary>
public static class PeerModelFile
{
    static readonly ModelConfig Stories110M = new()
    {
        Architecture = "LlamaForCausalLM",
        VocabSize = 32000,
        HiddenSize = 768,
        IntermediateSize = 2048,
        NumHiddenLayers = 12,
        NumAttentionHeads = 12,
        NumKeyValueHeads = 12,
        HeadDim = 64,
        MaxPositionEmbeddings = 2048,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "float32",
    };

    // Grouped-query attention on purpose, so both engines' KV-head sharing is compared too.
    static readonly ModelConfig Tiny = Stories110M with
    {
        VocabSize = 320,
        HiddenSize = 64,
        IntermediateSize = 160,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 16,
        MaxPositionEmbeddings = 256,
    };

    /// <summary>
    /// Writes a model of stories110M's shape (dim 768, 12 layers, 12 heads, FFN 2048, vocabulary 32000,
    /// untied output; 438 MB of weights) with weights drawn at a real initialisation's scale, N(0, 1/fan_in).
    /// </summary>
    public static ModelConfig WriteStories110MShape(string path, long seed) => Write(path, Stories110M, seed, weightScale: 1, logitScale: 1);

    /// <summary>
    /// Writes a tiny model (dim 64, 2 layers, 4 query and 2 KV heads, vocabulary 320) whose logits are peaky
    /// enough that greedy choices differ by far more than two engines' rounding: for parity tests.
    /// </summary>
    public static ModelConfig WriteTiny(string path, long seed) => Write(path, Tiny, seed, weightScale: 2, logitScale: 32);

    static ModelConfig Write(string path, ModelConfig config, long seed, double weightScale, double logitScale)
    {
        using var model = TransformerModel.Create(config);
        TinyModelFactory.Randomize(model, seed, weightScale);
        var parameters = model.CheckpointTensors();
        // Scaling the final norm scales every logit, widening top-1/top-2 gaps without touching the layers' dynamics.
        if (logitScale != 1)
        {
            using var noGrad = no_grad();
            parameters["model.norm.weight"].mul_(logitScale);
        }
        GgufLlamaWriter.Write(path, config, parameters, Vocabulary(config.VocabSize));
        return config;
    }

    static SentencePieceVocabulary Vocabulary(int size)
    {
        int reserved = SentencePieceVocabulary.WithByteFallback([]).Tokens.Count;
        return SentencePieceVocabulary.WithByteFallback(Enumerable.Range(0, size - reserved).Select(i => ($"▁tok{i}", -(float)i)));
    }
}
