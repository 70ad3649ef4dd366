namespace Rollout.Rewards;

/// <summary>Summary of the rewards a group's trajectories got, for logging progress.</summary>
/// <param name="Count">How many trajectories had a reward.</param>
/// <param name="Mean">Their mean.</param>
/// <param name="Std">Their sample standard deviation (n - 1 in the denominator, as GRPO divides by); 0 for one reward.</param>
/// <param name="Min">The smallest reward.</param>
/// <param name="Max">The largest reward.</param>
/// <param name="FractionSolved">The fraction of rewards at or above the solved threshold.</param>
public sealed record GroupStats(int Count, double Mean, double Std, float Min, float Max, double FractionSolved)
{
    /// <summary>The statistics of <paramref name="rewards"/>; null when there are none to summarise.</summary>
    /// <param name="rewards">Finite rewards.</param>
    /// <param name="solvedThreshold">A reward at or above it counts as solved.</param>
    public static GroupStats? Of(IReadOnlyList<float> rewards, float solvedThreshold)
    {
        ArgumentNullException.ThrowIfNull(rewards);
        int n = rewards.Count;
        if (n == 0) return null;
        double mean = rewards.Sum(r => (double)r) / n;
        double std = n < 2 ? 0 : Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / (n - 1));
        double solved = rewards.Count(r => r >= solvedThreshold) / (double)n;
        return new GroupStats(n, mean, std, rewards.Min(), rewards.Max(), solved);
    }
}
