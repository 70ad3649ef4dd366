using FsCheck;
using FsCheck.Xunit;
using Rollout.Engine.Speculation;

namespace Rollout.Engine.Tests.Speculation;

public class NGramProposerTests
{
    [Fact]
    public void Proposes_what_followed_the_latest_earlier_occurrence_of_the_longest_matching_suffix()
    {
        var proposer = new NGramProposer(minN: 1, maxN: 3);
        // "7 8" occurs twice before the end; the latest is followed by 4 5; the 3-gram "9 7 8" occurs once, followed by 1 2.
        int[] tokens = [9, 7, 8, 1, 2, 3, 7, 8, 4, 5, 6, 9, 7, 8];
        Assert.Equal([1, 2, 3], proposer.Propose(tokens, 3));

        var bigramsOnly = new NGramProposer(minN: 1, maxN: 2);
        Assert.Equal([4, 5, 6], bigramsOnly.Propose(tokens, 3));
    }

    [Fact]
    public void A_loop_shorter_than_k_is_proposed_k_deep()
    {
        var proposer = new NGramProposer(minN: 2, maxN: 2);
        Assert.Equal([5, 5, 5, 5], proposer.Propose([1, 5, 5, 5], 4));
        Assert.Equal([3, 4, 3, 4, 3], proposer.Propose([9, 3, 4, 3, 4], 5));
    }

    [Fact]
    public void Proposes_nothing_without_a_match_shorter_than_the_minimum_or_when_no_room_is_left()
    {
        var proposer = new NGramProposer(minN: 2, maxN: 3);
        Assert.Empty(proposer.Propose([1, 2, 3, 4, 5], 4));
        // The last token (5) recurs, but a 1-gram is below the minimum.
        Assert.Empty(proposer.Propose([5, 1, 2, 5], 4));
        Assert.Empty(proposer.Propose([1, 2, 1, 2], 0));
        Assert.Empty(proposer.Propose([1], 4));
    }

    /// <summary>Whatever the tokens, a proposal continues a real earlier occurrence of the sequence's last n tokens.</summary>
    [Property(MaxTest = 200)]
    public bool A_proposal_extends_a_real_match(byte[] raw, PositiveInt k)
    {
        var tokens = raw.Select(b => b % 4).ToArray();
        var proposal = new NGramProposer(minN: 2, maxN: 2).Propose(tokens, k.Get % 6);
        if (proposal.Length == 0) return true;
        // Read as one sequence, tokens then proposal: the proposal continues some earlier occurrence of the last bigram.
        int[] extended = [.. tokens, .. proposal];
        int n = tokens.Length;
        return proposal.Length == k.Get % 6 && Enumerable.Range(0, n - 2).Any(start =>
            tokens[start] == tokens[n - 2] && tokens[start + 1] == tokens[n - 1]
            && Enumerable.Range(0, proposal.Length).All(t => extended[start + 2 + t] == proposal[t]));
    }
}
