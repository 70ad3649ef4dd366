using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Models.Tokenization;

namespace Rollout.Models.Tests.Tokenization;

public sealed class IncrementalDetokenizerTests
{
    // The tiny vocabulary has almost no merges outside ASCII, so multi-byte characters always span
    // several tokens: the case the detokenizer exists for.
    static readonly HfTokenizer Tiny = LoadTiny();

    static HfTokenizer LoadTiny()
    {
        using var dir = new TempDirectory();
        TinyBpeTokenizerBuilder.Write(dir.Path);
        return HfTokenizer.Load(dir.Path);
    }

    static readonly string[] Pieces =
    [
        "a", "the", " ", "  ", "\n", "robot", "7", "42", ".", "é", "ß", "中", "文", "한", "ع", "😀", "👨‍👩‍👧", "🇫🇷", "\uFFFD",
        "<|im_start|>", "<|im_end|>",
    ];

    /// <summary>Texts made of whole characters, so that the only U+FFFD in them is a literal one.</summary>
    static Arbitrary<string> Texts() =>
        Gen.Elements(Pieces).ListOf().Select(parts => string.Concat(parts)).ToArbitrary();

    /// <summary>Any ids at all, including byte tokens that never form a valid character.</summary>
    static Arbitrary<int[]> IdSequences() =>
        Gen.Choose(0, Tiny.VocabSize - 1).ArrayOf().ToArbitrary();

    static List<(string Text, bool Flushed)> Stream(IReadOnlyList<int> ids, bool skipSpecialTokens)
    {
        var detokenizer = new IncrementalDetokenizer(Tiny, skipSpecialTokens);
        var increments = ids.Select(id => (detokenizer.Add(id), false)).ToList();
        increments.Add((detokenizer.Flush(), true));
        return increments;
    }

    [Property(MaxTest = 300)]
    public Property IncrementsOfValidTextConcatenateToTheDecodingAndNeverSplitACharacter()
    {
        return Prop.ForAll(Texts(), ArbMap.Default.ArbFor<bool>(), (text, skip) =>
        {
            var ids = Tiny.Encode(text);
            var increments = Stream(ids, skip);
            string full = Tiny.Decode(ids, skip);
            int position = 0;
            foreach (var (increment, _) in increments)
            {
                position += increment.Length;
                // A literal U+FFFD may end an increment; a half-decoded character may not.
                if (increment.EndsWith('\uFFFD') && full[position - 1] != '\uFFFD') return false;
                if (increment.Length > 0 && char.IsHighSurrogate(increment[^1])) return false;
            }
            return string.Concat(increments.Select(i => i.Text)) == full;
        });
    }

    [Property(MaxTest = 300)]
    public Property IncrementsOfArbitraryIdsConcatenateToTheDecoding()
    {
        return Prop.ForAll(IdSequences(), ArbMap.Default.ArbFor<bool>(), (ids, skip) =>
        {
            var increments = Stream(ids, skip);
            bool heldWhileIncomplete = increments.All(i => i.Flushed || !i.Text.EndsWith('\uFFFD'));
            return heldWhileIncomplete && string.Concat(increments.Select(i => i.Text)) == Tiny.Decode(ids, skip);
        });
    }

    [Fact]
    public void HoldsBackAMultiByteCharacterUntilItIsComplete()
    {
        var ids = Tiny.Encode("中");
        var detokenizer = new IncrementalDetokenizer(Tiny);

        Assert.Equal("", detokenizer.Add(ids[0]));
        Assert.Equal("", detokenizer.Add(ids[1]));
        Assert.Equal("中", detokenizer.Add(ids[2]));
        Assert.Equal("", detokenizer.Flush());
    }

    [Fact]
    public void FlushReleasesAnIncompleteTail()
    {
        var ids = Tiny.Encode("ab中");
        var detokenizer = new IncrementalDetokenizer(Tiny);

        string text = string.Concat(ids.Take(ids.Count - 1).Select(detokenizer.Add));

        Assert.Equal("ab", text);
        Assert.Equal("\uFFFD", detokenizer.Flush());
    }

    [Fact]
    public void ContextIsNotEmittedButLongStreamsStayExact()
    {
        string prompt = "<|im_start|>user\nTell me a story.<|im_end|>\n";
        string answer = string.Concat(Enumerable.Repeat("Once upon a time, 机器人 counted 🌊 waves. ", 20));
        var detokenizer = new IncrementalDetokenizer(Tiny, skipSpecialTokens: false, context: Tiny.Encode(prompt));

        string streamed = string.Concat(Tiny.Encode(answer).Select(detokenizer.Add)) + detokenizer.Flush();

        Assert.Equal(answer, streamed);
    }
}
