using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.Models.Tokenization;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

public class SentencePieceTokenizerTests
{
    static readonly SentencePieceTokenizer Tiny = new(GgufTestData.Vocabulary);

    static int Id(string piece) => GgufTestData.Vocabulary.Tokens.ToList().IndexOf(piece);

    [Fact]
    public void HighestScoringMergeGoesFirst()
    {
        // ▁a (-5) beats ab (-6), then ▁ab (-7) beats bc (-8); ▁abc is not a piece.
        Assert.Equal([1, Id("▁ab"), Id("c")], Tiny.Encode("abc"));

        // Raise bc above everything: it merges first, and a + bc never meet as "abc".
        var scores = GgufTestData.Vocabulary.Scores.ToArray();
        scores[Id("bc")] = 0;
        var raised = new SentencePieceTokenizer(GgufTestData.Vocabulary with { Scores = scores });
        Assert.Equal([1, Id("▁a"), Id("bc")], raised.Encode("abc"));
    }

    [Fact]
    public void CharactersOutsideTheVocabularyFallBackToBytes()
    {
        int Byte(int b) => 3 + b;
        Assert.Equal([Id("▁a"), Byte(0xF0), Byte(0x9F), Byte(0x98), Byte(0x80), Byte('\n'), Id("é")], Tiny.Encode("a😀\né", addSpecialTokens: false));
        Assert.Equal("a😀\né", Tiny.Decode(Tiny.Encode("a😀\né"), skipSpecialTokens: true));
    }

    [Fact]
    public void SpecialTokenTextBecomesItsIdAndDecodesBack()
    {
        // After a special token llama.cpp prefixes a space again, so "b" is encoded as "▁b".
        Assert.Equal([1, Id("▁a"), 2, Id("▁"), Id("b")], Tiny.Encode("a</s>b"));
        Assert.Equal("<s> a</s> b", Tiny.Decode(Tiny.Encode("a</s>b")));
        Assert.Equal("a b", Tiny.Decode(Tiny.Encode("a</s>b"), skipSpecialTokens: true));
        Assert.Equal("<s>", Tiny.SpecialTokenText(1));
        Assert.Equal("<unk>", Tiny.SpecialTokenText(0));
        Assert.Null(Tiny.SpecialTokenText(Id("a")));
    }

    [Fact]
    public void EmptyTextIsJustBos()
    {
        Assert.Equal([1], Tiny.Encode(""));
        Assert.Empty(Tiny.Encode("", addSpecialTokens: false));
        Assert.Equal("", Tiny.Decode([1], skipSpecialTokens: true));
    }

    [Fact]
    public void IdsOutsideTheVocabularyAreRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Tiny.Decode([Tiny.VocabSize]));

    static readonly string[] Alphabet = ["a", "b", "c", " ", "é", "😀", "\n", "x"];

    [Property(MaxTest = 300)]
    public void EncodingMatchesTheQuadraticDefinitionAndDecodesExactly(NonNegativeInt[] picks)
    {
        string text = string.Concat(picks.Select(p => Alphabet[p.Get % Alphabet.Length]));
        var ids = Tiny.Encode(text, addSpecialTokens: false);
        Assert.Equal(NaiveEncode(GgufTestData.Vocabulary, text), ids);
        Assert.Equal(text, Tiny.Decode(ids));
        Assert.Equal(text, Tiny.Decode([1, .. ids], skipSpecialTokens: true));
    }

    [RequiresSharedFixtureFact("stories260K")]
    public void Stories260K()
    {
        using var file = GgufFile.Open(GgufTestData.Stories260K);
        var tokenizer = SentencePieceTokenizer.FromGguf(file);
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal([2], tokenizer.EosTokenIds);

        // Expected ids from an independent Python implementation of the same merge rule over this file.
        Assert.Equal([1, 403, 407, 261, 378], tokenizer.Encode("Once upon a time"));
        Assert.Equal("Once upon a time", tokenizer.Decode([1, 403, 407, 261, 378], skipSpecialTokens: true));
        string mixed = "Hello, world! 😀 café\n  two  spaces";
        Assert.Equal([1, 346, 306, 414, 432, 263, 304, 341, 443, 410, 243, 162, 155, 131, 280, 412, 431, 485, 13, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419],
            tokenizer.Encode(mixed));
        Assert.Equal(mixed, tokenizer.Decode(tokenizer.Encode(mixed), skipSpecialTokens: true));
        Assert.Equal(NaiveEncode(tokenizer.Vocabulary, mixed), tokenizer.Encode(mixed, addSpecialTokens: false));

        // Byte tokens <0xNN> are ids 3 + NN and assemble into UTF-8.
        Assert.Equal("é😀", tokenizer.Decode([3 + 0xC3, 3 + 0xA9, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80]));
    }

    [Fact]
    public void WrittenVocabularyReadsBack()
    {
        using var temp = new TempFolder();
        using var scope = NewDisposeScope();
        string path = temp.File("tiny.gguf");
        var config = GgufTestData.Config();
        GgufLlamaWriter.Write(path, config, GgufTestData.HfTensors(config), GgufTestData.Vocabulary with { ChatTemplate = "{{ x }}" });
        using var file = GgufFile.Open(path);
        var read = SentencePieceTokenizer.FromGguf(file).Vocabulary;
        Assert.Equal(GgufTestData.Vocabulary.Tokens, read.Tokens);
        Assert.Equal(GgufTestData.Vocabulary.Scores, read.Scores);
        Assert.Equal(GgufTestData.Vocabulary.Types, read.Types);
        Assert.Equal("{{ x }}", read.ChatTemplate);
    }

    [Fact]
    public void OtherTokenizerModelsAreRefused()
    {
        using var temp = new TempFolder();
        string path = temp.File("gpt2.gguf");
        var writer = new GgufWriter();
        writer.AddMetadata("tokenizer.ggml.model", "gpt2");
        writer.Write(path);
        using var file = GgufFile.Open(path);
        Assert.Contains("'gpt2'", Assert.Throws<CheckpointFormatException>(() => SentencePieceTokenizer.FromGguf(file)).Message);
    }

    /// <summary>
    /// llama2.c's encoder: merge the best-scoring adjacent pair (leftmost on ties) until none is in the
    /// vocabulary; the priority queue of llama.cpp is a faster route to the same pieces.
    /// </summary>
    static List<int> NaiveEncode(SentencePieceVocabulary vocab, string text)
    {
        var ids = new Dictionary<string, int>();
        for (int i = 0; i < vocab.Tokens.Count; i++) ids[vocab.Tokens[i]] = i;
        if (text.Length == 0) return [];
        var symbols = new List<string>();
        string escaped = (" " + text).Replace(' ', '▁');
        for (int i = 0; i < escaped.Length; i += char.IsSurrogatePair(escaped, i) ? 2 : 1)
            symbols.Add(escaped.Substring(i, char.IsSurrogatePair(escaped, i) ? 2 : 1));
        while (true)
        {
            int best = -1;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (ids.TryGetValue(symbols[i] + symbols[i + 1], out int id) && (best < 0 || vocab.Scores[id] > vocab.Scores[ids[symbols[best] + symbols[best + 1]]]))
                    best = i;
            if (best < 0) break;
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
        return symbols.SelectMany(s => ids.TryGetValue(s, out int id) ? [id] : System.Text.Encoding.UTF8.GetBytes(s).Select(b => ids[$"<0x{b:X2}>"])).ToList();
    }
}
