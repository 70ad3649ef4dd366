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
    public void Qwen3MatchesHuggingFaceOnRandomText() =>
        TokenizerReference.AssertParity(TokenizerReference.NpmTokenizer("tokenizer-qwen3"), RandomTexts(seed: 1, count: 400), addSpecialTokens: false);

    [RequiresNodeFact]
    public void Llama3MatchesHuggingFaceOnRandomText() =>
        TokenizerReference.AssertParity(TokenizerReference.NpmTokenizer("tokenizer-llama3"), RandomTexts(seed: 2, count: 400), addSpecialTokens: false);

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

    // Pieces whose joins stress the split regexes: letter/number/space classes meeting, astral letters
    // and digits (surrogate pairs in .NET, code points in Oniguruma), unusual whitespace, special tokens.
    static readonly string[] Pieces =
    [
        "a", "Z", "word", "'s", "'LL", "'", "1", "23", "4567", " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u0085",
        "\u001f", "\u200b", ".", ",", "!?", "...", "-", "_", "(", ")", "\"", "é", "e\u0301", "ß", "ﬁ", "中文", "日本", "한", "ع", "ह", "ि",
        "я", "😀", "👨‍👩‍👧", "🇯🇵", "❤️", "𝐇", "𠀀", "𝟙", "٣", "½", "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<think>", "<|",
    ];

    static List<string> RandomTexts(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 12)).Select(_ => Pieces[random.Next(Pieces.Length)])))
            .ToList();
    }
}
