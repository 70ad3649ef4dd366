using System.Text.Json;
using Rollout.Models.Tokenization;

namespace Rollout.Models.Tests.Tokenization;

public sealed class TinyBpeTokenizerBuilderTests : IDisposable
{
    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(259)]
    [InlineData(300)]
    [InlineData(512)]
    public void VocabularyHasExactlyTheRequestedSizeWithSpecialsLast(int vocabSize)
    {
        TinyBpeTokenizerBuilder.Write(_dir.Path, vocabSize);
        var tokenizer = HfTokenizer.Load(_dir.Path);

        Assert.Equal(vocabSize, tokenizer.VocabSize);
        Assert.Equal("<|endoftext|>", tokenizer.SpecialTokenText(vocabSize - 3));
        Assert.Equal("<|im_start|>", tokenizer.SpecialTokenText(vocabSize - 2));
        Assert.Equal("<|im_end|>", tokenizer.SpecialTokenText(vocabSize - 1));
        Assert.Null(tokenizer.SpecialTokenText(vocabSize - 4));
        Assert.Equal([vocabSize - 1], tokenizer.EosTokenIds);
        Assert.Null(tokenizer.BosTokenId);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.Path, "tokenizer.json")));
        Assert.Equal(vocabSize - 3, json.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().Count());
    }

    [Fact]
    public void OutputIsDeterministic()
    {
        using var other = new TempDirectory();
        TinyBpeTokenizerBuilder.Write(_dir.Path);
        TinyBpeTokenizerBuilder.Write(other.Path);
        foreach (string file in (string[])["tokenizer.json", "tokenizer_config.json"])
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir.Path, file)), File.ReadAllBytes(Path.Combine(other.Path, file)));
    }

    [Fact]
    public void RoundTripsTextAndCompressesTheCorpusLanguage()
    {
        TinyBpeTokenizerBuilder.Write(_dir.Path);
        var tokenizer = HfTokenizer.Load(_dir.Path);
        const string text = "<|im_start|>user\nThe robot counted the waves, 1234 of them! 你好 😀<|im_end|>\n";

        var ids = tokenizer.Encode(text);

        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(510, ids[0]);
        Assert.Contains(511, ids);
        Assert.Equal("user\nThe robot counted the waves, 1234 of them! 你好 😀\n", tokenizer.Decode(ids, skipSpecialTokens: true));
        // Learned merges make common English far shorter than its bytes.
        Assert.True(tokenizer.Encode("the robot and the sea").Count <= 8);
    }

    [Fact]
    public void WritesAChatMlTemplate()
    {
        TinyBpeTokenizerBuilder.Write(_dir.Path);
        string? template = HfTokenizer.Load(_dir.Path).ChatTemplate;

        Assert.NotNull(template);
        Assert.Contains("<|im_start|>", template);
        Assert.Contains("add_generation_prompt", template);
    }

    [Fact]
    public void RefusesSizesTheCorpusCannotFill()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyBpeTokenizerBuilder.Write(_dir.Path, 258));
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyBpeTokenizerBuilder.Write(_dir.Path, 1_000_000));
    }
}
