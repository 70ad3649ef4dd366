using Rollout.Models.Tokenization;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Tokenization;

public sealed class HfTokenizerTests : IDisposable
{
    readonly TempDirectory _dir = new();

    public HfTokenizerTests() => TinyBpeTokenizerBuilder.Write(_dir.Path);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TemplateProcessingAddsPrefixAndSuffixOnlyWhenAsked()
    {
        TestTokenizerFiles.SetPostProcessor(_dir.Path, TestTokenizerFiles.Template("<|im_start|>", 510, "<|endoftext|>", 509));
        var tokenizer = HfTokenizer.Load(_dir.Path);

        var plain = tokenizer.Encode("hello", addSpecialTokens: false);
        var wrapped = tokenizer.Encode("hello");

        Assert.Equal([510, .. plain, 509], wrapped);
    }

    [Fact]
    public void ConfigFlagsOverrideThePostProcessor()
    {
        TestTokenizerFiles.SetPostProcessor(_dir.Path, TestTokenizerFiles.Template("<|im_start|>", 510, "<|endoftext|>", 509));
        TestTokenizerFiles.Edit(_dir.Path, "tokenizer_config.json", j =>
        {
            j["bos_token"] = "<|im_start|>";
            j["add_bos_token"] = false;
            j["eos_token"] = new System.Text.Json.Nodes.JsonObject { ["content"] = "<|endoftext|>" };
            j["add_eos_token"] = true;
        });
        var tokenizer = HfTokenizer.Load(_dir.Path);

        var plain = tokenizer.Encode("hello", addSpecialTokens: false);

        Assert.Equal([.. plain, 509], tokenizer.Encode("hello"));
        Assert.Equal(510, tokenizer.BosTokenId);
        Assert.Equal([509], tokenizer.EosTokenIds);
    }

    [Fact]
    public void AddBosTokenAddsBosWithoutATemplate()
    {
        TestTokenizerFiles.Edit(_dir.Path, "tokenizer_config.json", j =>
        {
            j["bos_token"] = "<|endoftext|>";
            j["add_bos_token"] = true;
        });
        var tokenizer = HfTokenizer.Load(_dir.Path);

        Assert.Equal(509, tokenizer.Encode("hi")[0]);
        Assert.NotEqual(509, tokenizer.Encode("hi", addSpecialTokens: false)[0]);
    }

    [Fact]
    public void NamedChatTemplatesYieldTheDefaultOne()
    {
        TestTokenizerFiles.Edit(_dir.Path, "tokenizer_config.json", j => j["chat_template"] = System.Text.Json.Nodes.JsonNode.Parse(
            """[{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]"""));

        Assert.Equal("D", HfTokenizer.Load(_dir.Path).ChatTemplate);
    }

    [Fact]
    public void DecodeRejectsIdsOutsideTheVocabulary()
    {
        var tokenizer = HfTokenizer.Load(_dir.Path);

        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([5, 512]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([-1]));
    }

    [Fact]
    public void SplitCharactersDecodeToReplacementCharacters()
    {
        var tokenizer = HfTokenizer.Load(_dir.Path);
        var ids = tokenizer.Encode("中");

        Assert.Equal(3, ids.Count);
        Assert.Equal("\uFFFD", tokenizer.Decode([ids[0]]));
        Assert.Equal("中", tokenizer.Decode(ids));
    }

    [Fact]
    public void LoneSurrogatesEncodeAsReplacementCharacters()
    {
        var tokenizer = HfTokenizer.Load(_dir.Path);

        Assert.Equal(tokenizer.Encode("a\uFFFDb\uFFFD"), tokenizer.Encode("a\uD800b\uDC00"));
    }

    [RequiresNodeFact]
    public void Qwen3KnowsItsSpecialTokensAndTemplate()
    {
        var tokenizer = HfTokenizer.Load(TokenizerReference.NpmTokenizer("tokenizer-qwen3"));

        Assert.Equal(151669, tokenizer.VocabSize);
        Assert.Null(tokenizer.BosTokenId);
        Assert.Equal([151645], tokenizer.EosTokenIds);
        Assert.Equal("<|im_start|>", tokenizer.SpecialTokenText(151644));
        Assert.Null(tokenizer.SpecialTokenText(151667)); // <think> is an added token but not special
        Assert.Equal("<think>", tokenizer.Decode([151667], skipSpecialTokens: true));
        Assert.Contains("<|im_start|>", tokenizer.ChatTemplate);
    }

    [RequiresNodeFact]
    public void Llama3KnowsItsSpecialTokens()
    {
        var tokenizer = HfTokenizer.Load(TokenizerReference.NpmTokenizer("tokenizer-llama3"));

        Assert.Equal(128256, tokenizer.VocabSize);
        Assert.Equal(128000, tokenizer.BosTokenId);
        Assert.Equal([128001], tokenizer.EosTokenIds);
    }
}
