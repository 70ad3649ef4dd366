using System.Text.Json;
using Rollout.Models.Architectures;
using Rollout.Models.Configuration;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Configuration;

public class HfConfigParserTests
{
    static string Fixture(string name, string file) => Path.Combine(TestPaths.RepoFixtures, "hf", name, file);

    [Theory]
    [InlineData("llama-llama3-rope")]
    [InlineData("llama-linear-rope-tied")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    [InlineData("mistral")]
    [InlineData("llama-reward")]
    public void HubAndTransformers5LayoutsParseToTheSameModel(string name)
    {
        var hub = HfConfigParser.Load(Fixture(name, "config.json"));
        var v5 = HfConfigParser.Load(Fixture(name, "config.transformers.json"));
        Assert.Equal(Describe(hub), Describe(v5));
    }

    [Fact]
    public void FamilyRulesApply()
    {
        var llama3 = HfConfigParser.Load(Fixture("llama-llama3-rope", "config.json"));
        Assert.Equal(new RopeScaling("llama3", 8.0, 1.0, 4.0, 64), llama3.RopeScaling);
        Assert.False(llama3.QkvBias);
        var linear = HfConfigParser.Load(Fixture("llama-linear-rope-tied", "config.json"));
        Assert.Equal("linear", linear.RopeScaling!.Type);
        Assert.True(linear.TieWordEmbeddings);
        var qwen2 = HfConfigParser.Load(Fixture("qwen2", "config.json"));
        Assert.True(qwen2.QkvBias);
        Assert.False(qwen2.OutputBias);
        Assert.Null(qwen2.WindowOfLayer(0));
        var qwen3 = HfConfigParser.Load(Fixture("qwen3", "config.json"));
        Assert.True(qwen3.QkNorm);
        Assert.Equal(32, qwen3.HeadDim);
        var mistral = HfConfigParser.Load(Fixture("mistral", "config.json"));
        Assert.Equal(8, mistral.WindowOfLayer(1));
        var reward = HfConfigParser.Load(Fixture("llama-reward", "config.json"));
        Assert.Equal(ModelHead.SequenceClassification, ArchitectureRegistry.HeadOf(reward.Architecture));
        Assert.Equal(1, reward.NumLabels);
    }

    [Fact]
    public void QwenSlidingWindowAppliesFromMaxWindowLayersOnWhenEnabled()
    {
        var config = HfConfigParser.Parse(Minimal("Qwen2ForCausalLM", """
            "use_sliding_window": true, "sliding_window": 32, "max_window_layers": 1, "num_hidden_layers": 3
            """));
        Assert.Equal(new int?[] { null, 32, 32 }, Enumerable.Range(0, 3).Select(config.WindowOfLayer).ToArray());
    }

    [Fact]
    public void EosIdsMayBeAList()
    {
        var config = HfConfigParser.Parse(Minimal("LlamaForCausalLM", "\"eos_token_id\": [128001, 128009]"));
        Assert.Equal([128001, 128009], config.EosTokenIds);
    }

    [Fact]
    public void UnsupportedArchitectureNamesItAndTheSupportedOnes()
    {
        var e = Assert.Throws<UnsupportedArchitectureException>(() => HfConfigParser.Parse(Minimal("GPTNeoXForCausalLM", null)));
        Assert.Contains("GPTNeoXForCausalLM", e.Message);
        Assert.Contains("Qwen3ForCausalLM", e.Message);
        Assert.Contains("LlamaForSequenceClassification", e.Message);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("""{"hidden_size": 8}""", "architectures")]
    [InlineData("""{"architectures": ["LlamaForCausalLM"], "vocab_size": 10}""", "hidden_size")]
    [InlineData("""{"architectures": ["LlamaForCausalLM"], "vocab_size": 10, "hidden_size": "big", "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}""", "'hidden_size' must be an integer")]
    public void MalformedConfigsGetAClearMessage(string json, string expected)
    {
        var e = Assert.Throws<ModelConfigException>(() => HfConfigParser.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("\"num_key_value_heads\": 3", "must divide")]
    [InlineData("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}", "'yarn' is not supported")]
    [InlineData("\"hidden_act\": \"gelu\"", "hidden_act 'gelu'")]
    [InlineData("\"head_dim\": 7", "head_dim (7)")]
    public void ConfigsThisBuildCannotRunAreRefused(string extra, string expected)
    {
        var e = Assert.Throws<ModelConfigException>(() => HfConfigParser.Parse(Minimal("LlamaForCausalLM", extra)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<ModelConfigException>(() => HfConfigParser.Load("/nonexistent/config.json"));
        Assert.Contains("/nonexistent/config.json", e.Message);
    }

    static string Minimal(string architecture, string? extra)
    {
        string baseFields = $$"""
            "architectures": ["{{architecture}}"], "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
            "num_attention_heads": 4
            """;
        if (extra is null || !extra.Contains("num_hidden_layers")) baseFields += ", \"num_hidden_layers\": 2";
        return "{" + baseFields + (extra is null ? "" : ", " + extra) + "}";
    }

    static string Describe(ModelConfig c) => JsonSerializer.Serialize(c with
    {
        SlidingWindowLayers = [],
        EosTokenIds = [],
    }) + string.Join(",", Enumerable.Range(0, c.NumHiddenLayers).Select(c.WindowOfLayer)) + string.Join(",", c.EosTokenIds);
}
