namespace Rollout.Bench.SpecDecode;

/// <summary>
/// How many greedy sequences came out the same with and without speculation. Speculation must not change
/// what is sampled; a mismatch means verification's multi-row scores rounded a near tie the other way, or a bug.
/// </summary>
internal sealed class GreedyTally
{
    public int Matched { get; private set; }
    public int Compared { get; private set; }

    public double Fraction => Compared == 0 ? 0 : (double)Matched / Compared;

    /// <summary>Compares two runs' sequences, pairwise in prompt order.</summary>
    public void Add(int[][] plain, int[][] speculative)
    {
        for (int i = 0; i < plain.Length; i++)
        {
            Compared++;
            if (plain[i].AsSpan().SequenceEqual(speculative[i])) Matched++;
        }
    }
}
