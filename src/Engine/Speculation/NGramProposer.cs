using Rollout.Engine.Sequences;

namespace Rollout.Engine.Speculation;

/// <summary>
/// Prompt lookup decoding: finds the latest earlier occurrence of the sequence's last n tokens (n from
/// <c>maxN</c> down to <c>minN</c>) and proposes the tokens that followed it. Costs a backwards scan of the
/// sequence and keeps no state, so it backs off for free where outputs do not copy.
/// </summary>
internal sealed class NGramProposer(int minN, int maxN) : ISpeculativeProposer
{
    public void Propose(IReadOnlyList<Sequence> sequences, int[] maxTokens, int[][] proposals)
    {
        for (int i = 0; i < sequences.Count; i++) proposals[i] = Propose(sequences[i].AllTokens, maxTokens[i]);
    }

    /// <summary>The <paramref name="maxTokens"/> tokens that continue the latest earlier match of the longest suffix that has one; empty if none.</summary>
    public int[] Propose(IReadOnlyList<int> tokens, int maxTokens)
    {
        int length = tokens.Count;
        if (maxTokens <= 0) return [];
        for (int n = Math.Min(maxN, length - 1); n >= minN; n--)
        {
            // The latest start, so the continuation is the most recent context; starts end before the suffix itself.
            for (int start = length - n - 1; start >= 0; start--)
            {
                if (!SameRun(tokens, start, length - n, n)) continue;
                // Copied as LZ77 copies: a continuation that runs into the suffix goes on with what it proposed
                // itself, so a loop shorter than k (a repeated token, say) is proposed k tokens deep.
                int from = start + n;
                var proposal = new int[maxTokens];
                for (int t = 0; t < maxTokens; t++) proposal[t] = from + t < length ? tokens[from + t] : proposal[from + t - length];
                return proposal;
            }
        }
        return [];
    }

    static bool SameRun(IReadOnlyList<int> tokens, int a, int b, int n)
    {
        for (int i = n - 1; i >= 0; i--)
            if (tokens[a + i] != tokens[b + i]) return false;
        return true;
    }

    public void Dispose() { }
}
