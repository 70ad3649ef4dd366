using Rollout.Models.Tokenization;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Tokenization;

public sealed class HfTokenizerParityTests
{
    [Fact]
    public void CorpusIsLargeAndVaried()
    {
        Assert.True(TokenizerReference.Corpus.Count >= 200, $"corpus has {TokenizerReference.Corpus.Count} texts");
        Assert.Contains("", TokenizerReference.Corpus);
    }

    [RequiresNodeFact]
    public void Qwen3MatchesHuggingFace() =>
        TokenizerReference.AssertParity(TokenizerReference.NpmTokenizer("tokenizer-qwen3"), TokenizerReference.Corpus, addSpecialTokens: true);

    [RequiresNodeFact]
    public void Llama3MatchesHuggingFace() =>
        TokenizerReference.AssertParity(TokenizerReference.NpmTokenizer("tokenizer-llama3"), TokenizerReference.Corpus, addSpecialTokens: true);

    [RequiresNodeFact]
    public void TinyTokenizerMatchesHuggingFace()
    {
        using var dir = new TempDirectory();
        TinyBpeTokenizerBuilder.Write(dir.Path);
        TokenizerReference.AssertParity(dir.Path, TokenizerReference.Corpus, addSpecialTokens: true);
    }

    [RequiresNodeFact]
    public void TemplateProcessingMatchesHuggingFace()
    {
        // The npm Llama 3 files carry a ByteLevel post-processor; this gives the tiny tokenizer the
        // TemplateProcessing one that newer Llama 3 files use, with a suffix as well to cover both ends.
        using var dir = new TempDirectory();
        TinyBpeTokenizerBuilder.Write(dir.Path);
        TestTokenizerFiles.SetPostProcessor(dir.Path, TestTokenizerFiles.Template("<|im_start|>", 510, "<|endoftext|>", 509));
        var texts = TokenizerReference.Corpus.Take(40).ToList();
        TokenizerReference.AssertParity(dir.Path, texts, addSpecialTokens: true);
        TokenizerReference.AssertParity(dir.Path, texts, addSpecialTokens: false);
    }
}
