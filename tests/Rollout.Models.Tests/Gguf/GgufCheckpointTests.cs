using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

public class GgufCheckpointTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData(false, ScalarType.Float32)]
    [InlineData(true, ScalarType.Float32)]
    [InlineData(false, ScalarType.Float16)]
    public void HfTensorsSurviveTheGgufLayoutExactly(bool tied, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var config = GgufTestData.Config(tied);
        var hf = GgufTestData.HfTensors(config).ToDictionary(p => p.Key, p => p.Value.to_type(dtype));
        string path = temp.File("tiny.gguf");
        GgufLlamaWriter.Write(path, config, hf, GgufTestData.Vocabulary);

        using var checkpoint = GgufCheckpoint.Open(path);
        Assert.Equal(hf.Keys.Order(), checkpoint.TensorNames.Order());
        foreach (var (name, expected) in hf)
        {
            // llama.cpp wants norm weights in F32, so the writer widens 1-D tensors.
            var storedType = expected.Dimensions == 1 ? ScalarType.Float32 : dtype;
            Assert.Equal(new TensorInfo(storedType, expected.shape), checkpoint.Describe(name), new TensorInfoComparer());
            var actual = checkpoint.Read(name);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.to_type(storedType).eq(actual).all().item<bool>(), name);
        }
        Assert.Equal(tied, checkpoint.Config.TieWordEmbeddings);
        Assert.Throws<KeyNotFoundException>(() => checkpoint.Read("blk.0.attn_q.weight"));
    }

    [Fact]
    public void StoredRowsUnderLlamaCppRopeGiveHfRopeAttentionScores()
    {
        using var scope = NewDisposeScope();
        var config = GgufTestData.Config();
        var hf = GgufTestData.HfTensors(config);
        string path = temp.File("tiny.gguf");
        GgufLlamaWriter.Write(path, config, hf, GgufTestData.Vocabulary);

        using var file = GgufFile.Open(path);
        var storedQ = file.Read("blk.1.attn_q.weight");
        Assert.False(storedQ.eq(hf["model.layers.1.self_attn.q_proj.weight"]).all().item<bool>());
        AssertSameScores(config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim, config.RopeTheta,
            storedQ, file.Read("blk.1.attn_k.weight"),
            hf["model.layers.1.self_attn.q_proj.weight"], hf["model.layers.1.self_attn.k_proj.weight"]);
    }

    [RequiresSharedFixtureFact("stories260K")]
    public void Stories260KUnderHfNamesAndRope()
    {
        using var scope = NewDisposeScope();
        using var checkpoint = GgufCheckpoint.Open(GgufTestData.Stories260K);
        Assert.Equal(48, checkpoint.TensorNames.Count);
        Assert.Contains("model.layers.4.mlp.down_proj.weight", checkpoint.TensorNames);
        Assert.Contains("lm_head.weight", checkpoint.TensorNames);
        Assert.Equal([512L, 64L], checkpoint.Describe("model.embed_tokens.weight").Shape);
        Assert.Equal([32L, 64L], checkpoint.Describe("model.layers.0.self_attn.k_proj.weight").Shape);
        Assert.Equal([64L, 172L], checkpoint.Describe("model.layers.0.mlp.down_proj.weight").Shape);

        // The file stores llama.cpp's interleaved RoPE rows; what the checkpoint returns must give the same
        // attention scores under HF's rotate-half RoPE.
        AssertSameScores(8, 4, 8, 10000, checkpoint.File.Read("blk.0.attn_q.weight"), checkpoint.File.Read("blk.0.attn_k.weight"),
            checkpoint.Read("model.layers.0.self_attn.q_proj.weight"), checkpoint.Read("model.layers.0.self_attn.k_proj.weight"));
    }

    [Fact]
    public void QuantizedTensorsAreRefusedByName()
    {
        string path = WriteTiny();
        GgufPatch.SetTensorType(path, "blk.0.attn_q.weight", 12);
        var e = Assert.Throws<CheckpointFormatException>(() => GgufCheckpoint.Open(path));
        Assert.Equal("quantized GGUF tensors are not supported yet: blk.0.attn_q.weight is Q4_K", e.Message);
    }

    [Fact]
    public void RopeFrequencyFactorsAreRefusedWithTheReason()
    {
        string path = WriteTiny();
        GgufPatch.RenameTensor(path, "token_embd.weight", "rope_freqs.weight");
        Assert.Contains("rope_freqs.weight holds per-frequency RoPE factors", Assert.Throws<CheckpointFormatException>(() => GgufCheckpoint.Open(path)).Message);
    }

    [Fact]
    public void TensorsOutsideTheLlamaLayoutAreRefused()
    {
        string path = WriteTiny();
        GgufPatch.RenameTensor(path, "token_embd.weight", "token_embx.weight");
        Assert.Contains("tensor 'token_embx.weight' has no Hugging Face counterpart", Assert.Throws<CheckpointFormatException>(() => GgufCheckpoint.Open(path)).Message);
    }

    string WriteTiny()
    {
        using var scope = NewDisposeScope();
        string path = temp.File("tiny.gguf");
        GgufLlamaWriter.Write(path, GgufTestData.Config(), GgufTestData.HfTensors(GgufTestData.Config()), GgufTestData.Vocabulary);
        return path;
    }

    /// <summary>q·k of every query/key head pair, interleaved RoPE on the GGUF rows against rotate-half RoPE on the HF rows.</summary>
    static void AssertSameScores(int heads, int kvHeads, int headDim, double theta, Tensor ggufQ, Tensor ggufK, Tensor hfQ, Tensor hfK)
    {
        const int positions = 7;
        var x = randn(positions, ggufQ.shape[1]);
        var inverse = pow(theta, -arange(0, headDim, 2, dtype: ScalarType.Float64) / headDim).to_type(ScalarType.Float32);
        var angles = outer(arange(positions, dtype: ScalarType.Float32), inverse);
        var (cos, sin) = (angles.cos(), angles.sin());

        Tensor Interleaved(Tensor v)
        {
            var pairs = v.view(positions, headDim / 2, 2);
            var (a, b) = (pairs.select(2, 0), pairs.select(2, 1));
            return stack([a * cos - b * sin, a * sin + b * cos], 2).view(positions, headDim);
        }

        Tensor RotateHalf(Tensor v)
        {
            var (a, b) = (v[.., ..(headDim / 2)], v[.., (headDim / 2)..]);
            return cat([a * cos - b * sin, b * cos + a * sin], 1);
        }

        for (int h = 0; h < heads; h++)
        {
            int kv = h / (heads / kvHeads);
            Tensor Head(Tensor w, int i) => matmul(x, w[(i * headDim)..((i + 1) * headDim)].t());
            var stored = matmul(Interleaved(Head(ggufQ, h)), Interleaved(Head(ggufK, kv)).t());
            var expected = matmul(RotateHalf(Head(hfQ, h)), RotateHalf(Head(hfK, kv)).t());
            Assert.True(stored.allclose(expected, rtol: 1e-4, atol: 1e-4), $"head {h}");
        }
    }

    sealed class TensorInfoComparer : IEqualityComparer<TensorInfo>
    {
        public bool Equals(TensorInfo? a, TensorInfo? b) => a!.DType == b!.DType && a.Shape.SequenceEqual(b.Shape);

        public int GetHashCode(TensorInfo info) => 0;
    }
}
