using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Engine.Sampling;

namespace Rollout.Engine.Tests.Sampling;

public class StopStringMatcherTests
{
    const string Emoji = "\U0001F600";

    public record StreamCase(string[] Pieces, string[] Stops, bool Include)
    {
        public override string ToString() => $"pieces [{string.Join("|", Pieces)}] stops [{string.Join("|", Stops)}] include {Include}";
    }

    // Pieces a detokenizer could hand out, including a surrogate pair split across two pieces.
    static readonly string[][] PieceRuns = [["a"], ["b"], ["c"], ["ab"], ["bca"], [Emoji], ["a" + Emoji], [Emoji[..1], Emoji[1..]]];
    static readonly string[] StopChoices = ["a", "ab", "abc", "ba", "cc", "bcb", Emoji + "b", "b" + Emoji, "cab"];

    static Arbitrary<StreamCase> Cases() =>
        Gen.Zip(
                Gen.ListOf(Gen.Elements(PieceRuns)).Select(runs => runs.SelectMany(r => r).ToArray()),
                Gen.NonEmptyListOf(Gen.Elements(StopChoices)).Select(s => s.Distinct().Take(3).ToArray()),
                (pieces, stops) => (pieces, stops))
            .SelectMany(t => Gen.Elements(true, false), (t, include) => new StreamCase(t.pieces, t.stops, include))
            .ToArbitrary();

    /// <summary>Stops at the first prefix of the text that ends with a stop string, as character-by-character streaming would.</summary>
    static (string Text, int StopStart) Reference(string text, string[] stops, bool include)
    {
        for (int end = 1; end <= text.Length; end++)
        {
            var matched = stops.Where(s => text.AsSpan(0, end).EndsWith(s, StringComparison.Ordinal)).ToArray();
            if (matched.Length == 0) continue;
            int start = end - matched.Max(s => s.Length);
            return (text[..(include ? end : start)], start);
        }
        return (text, text.Length);
    }

    [Property(MaxTest = 300)]
    public Property StreamingReleasesExactlyTheReferenceTruncationAndNeverRetracts() =>
        Prop.ForAll(Cases(), c =>
        {
            string full = string.Concat(c.Pieces);
            var (expected, stopStart) = Reference(full, c.Stops, c.Include);
            var matcher = new StopStringMatcher(c.Stops, c.Include);
            string text = "", released = "";
            bool stopped = false;
            foreach (string piece in c.Pieces)
            {
                text += piece;
                var match = matcher.Advance(piece, finished: false);
                released += match.Text;
                if (match.Stopped)
                {
                    stopped = true;
                    break;
                }
                // Nothing that could still belong to a stop string, nor half a character, has been shown.
                Assert.StartsWith(released, full[..stopStart], StringComparison.Ordinal);
                Assert.False(released.Length > 0 && char.IsHighSurrogate(released[^1]), "released half a surrogate pair");
                Assert.Equal(text.Length - HeldBack(text, released.Length, c.Stops), released.Length);
            }
            if (!stopped) released += matcher.Advance("", finished: true).Text;
            Assert.Equal(expected, released);
        });

    /// <summary>The longest suffix of the unreleased text that starts some stop string, plus a dangling high surrogate.</summary>
    static int HeldBack(string text, int releasedLength, string[] stops)
    {
        int held = 0;
        for (int length = 1; length <= text.Length - releasedLength; length++)
            if (stops.Any(s => s.Length > length && s.StartsWith(text[^length..], StringComparison.Ordinal))) held = length;
        int safe = text.Length - held;
        return safe > releasedLength && char.IsHighSurrogate(text[safe - 1]) ? held + 1 : held;
    }

    [Fact]
    public void TheStopThatCompletesFirstWinsEvenIfAnotherStartedEarlier()
    {
        var matcher = new StopStringMatcher(["abcdef", "cd"], includeStopString: false);
        Assert.Equal(new StopStringMatch(true, "ab", "cd"), matcher.Advance("abcdef", finished: false));
    }

    [Fact]
    public void IncludedStopStringIsReleasedWhole()
    {
        var matcher = new StopStringMatcher(["STOP"], includeStopString: true);
        Assert.Equal(new StopStringMatch(false, "abc"), matcher.Advance("abcST", finished: false));
        Assert.Equal(new StopStringMatch(true, "STOP", "STOP"), matcher.Advance("OPdef", finished: false));
    }

    [Fact]
    public void HeldBackTextIsReleasedWhenTheStopDoesNotMaterialise()
    {
        var matcher = new StopStringMatcher(["</end>"], includeStopString: false);
        Assert.Equal("x", matcher.Advance("x</e", finished: false).Text);
        Assert.Equal("</eq", matcher.Advance("q", finished: false).Text);
        Assert.Equal("", matcher.Advance("</", finished: false).Text);
        Assert.Equal(new StopStringMatch(false, "</"), matcher.Advance("", finished: true));
    }

    [Fact]
    public void AHalfSurrogatePairIsHeldBack()
    {
        var matcher = new StopStringMatcher([], includeStopString: false);
        Assert.Equal("a", matcher.Advance("a" + Emoji[..1], finished: false).Text);
        Assert.Equal(Emoji + "b", matcher.Advance(Emoji[1..] + "b", finished: false).Text);
    }

    [Fact]
    public void NoCallsAfterAStop()
    {
        var matcher = new StopStringMatcher(["x"], includeStopString: false);
        Assert.True(matcher.Advance("ax", finished: false).Stopped);
        Assert.Throws<InvalidOperationException>(() => matcher.Advance("y", finished: false));
    }
}
