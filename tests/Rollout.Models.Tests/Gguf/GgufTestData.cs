using Rollout.Models.Configuration;
using Rollout.Models.Tokenization;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

/// <summary>Temporary files, the shared stories260K fixture, and a tiny random Llama to write as GGUF.</summary>
internal static class GgufTestData
{
    public static string Stories260K => Path.Combine(TestPaths.SharedFixtures, "stories260K", "stories260K-f32.gguf");

    public static SentencePieceVocabulary Vocabulary { get; } = SentencePieceVocabulary.WithByteFallback(
    [
        ("▁", -1), ("a", -2), ("b", -3), ("c", -4), ("▁a", -5), ("ab", -6), ("▁ab", -7), ("bc", -8), ("abc", -9), ("é", -10),
    ]);

    public static ModelConfig Config(bool tied = false) => new()
    {
        Architecture = "LlamaForCausalLM",
        VocabSize = Vocabulary.Tokens.Count,
        HiddenSize = 32,
        IntermediateSize = 40,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 8,
        MaxPositionEmbeddings = 64,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        TieWordEmbeddings = tied,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "float32",
    };

    /// <summary>Random weights under their HF names and shapes; caller disposes.</summary>
    public static Dictionary<string, Tensor> HfTensors(ModelConfig c)
    {
        int q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        var shapes = new Dictionary<string, long[]>
        {
            ["model.embed_tokens.weight"] = [c.VocabSize, c.HiddenSize],
            ["model.norm.weight"] = [c.HiddenSize],
        };
        if (!c.TieWordEmbeddings) shapes["lm_head.weight"] = [c.VocabSize, c.HiddenSize];
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            shapes[p + "input_layernorm.weight"] = [c.HiddenSize];
            shapes[p + "post_attention_layernorm.weight"] = [c.HiddenSize];
            shapes[p + "self_attn.q_proj.weight"] = [q, c.HiddenSize];
            shapes[p + "self_attn.k_proj.weight"] = [kv, c.HiddenSize];
            shapes[p + "self_attn.v_proj.weight"] = [kv, c.HiddenSize];
            shapes[p + "self_attn.o_proj.weight"] = [c.HiddenSize, q];
            shapes[p + "mlp.gate_proj.weight"] = [c.IntermediateSize, c.HiddenSize];
            shapes[p + "mlp.up_proj.weight"] = [c.IntermediateSize, c.HiddenSize];
            shapes[p + "mlp.down_proj.weight"] = [c.HiddenSize, c.IntermediateSize];
        }
        return shapes.ToDictionary(s => s.Key, s => randn(s.Value));
    }
}

/// <summary>A folder of scratch files, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("rollout-gguf-").FullName;

    public string File(string name) => Path.Combine(Root, name);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
