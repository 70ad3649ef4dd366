using Rollout.Models.Architectures;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.Models.Configuration;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

public class GgufModelConfigTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [RequiresSharedFixtureFact("stories260K")]
    public void Stories260K()
    {
        using var file = GgufFile.Open(GgufTestData.Stories260K);
        var c = GgufModelConfig.From(file);
        Assert.Equal("LlamaForCausalLM", c.Architecture);
        Assert.Equal((64, 5, 8, 4, 8, 172, 512, 512), (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings));
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.False(c.TieWordEmbeddings);
        Assert.Null(c.RopeScaling);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Equal(0, c.PadTokenId);
        Assert.Equal("float32", c.TorchDtype);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrittenConfigReadsBack(bool tied)
    {
        using var scope = NewDisposeScope();
        var expected = GgufTestData.Config(tied) with { RopeScaling = new RopeScaling("linear", 2.0) };
        string path = temp.File("tiny.gguf");
        GgufLlamaWriter.Write(path, expected, GgufTestData.HfTensors(expected), GgufTestData.Vocabulary);
        using var file = GgufFile.Open(path);
        var actual = GgufModelConfig.From(file);
        Assert.Equal(expected.EosTokenIds, actual.EosTokenIds);
        Assert.Equal(expected, actual with { EosTokenIds = expected.EosTokenIds, SlidingWindowLayers = expected.SlidingWindowLayers });
    }

    [Fact]
    public void OtherArchitecturesAreRefusedByName()
    {
        string path = temp.File("qwen.gguf");
        var writer = new GgufWriter();
        writer.AddMetadata("general.architecture", "qwen2");
        writer.Write(path);
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<UnsupportedArchitectureException>(() => GgufModelConfig.From(file));
        Assert.Equal("qwen2", e.Architecture);
        Assert.Equal("Unsupported architecture 'qwen2'. Supported: llama.", e.Message);
    }

    [Fact]
    public void MissingKeysAreNamed()
    {
        string path = temp.File("partial.gguf");
        var writer = new GgufWriter();
        writer.AddMetadata("general.architecture", "llama");
        writer.AddMetadata("llama.embedding_length", 64u);
        writer.AddMetadata("llama.attention.head_count", 8u);
        writer.AddMetadata("llama.vocab_size", 512u);
        writer.Write(path);
        using var file = GgufFile.Open(path);
        Assert.Contains("lacks llama.feed_forward_length", Assert.Throws<ModelConfigException>(() => GgufModelConfig.From(file)).Message);
    }
}
