namespace Rollout.Rewards;

/// <summary>
/// Advantages of a group of completions of one prompt from their rewards, as the group-relative RL
/// methods define them. Every method gives each completion one scalar that a loss applies to all its
/// tokens; a group of one, or a group whose rewards are all equal, has nothing to compare against and
/// gets zeros.
/// </summary>
public static class GroupAdvantages
{
    /// <summary>The advantages <paramref name="method"/> gives <paramref name="rewards"/> (GRPO with its default epsilon).</summary>
    public static float[] Compute(AdvantageMethod method, IReadOnlyList<float> rewards) => method switch
    {
        AdvantageMethod.Grpo => Grpo(rewards),
        AdvantageMethod.DrGrpo => DrGrpo(rewards),
        AdvantageMethod.Rloo => Rloo(rewards),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown advantage method"),
    };

    /// <summary>
    /// GRPO: (r - mean) / (std + <paramref name="epsilon"/>), the standard deviation the sample one
    /// (n - 1 in the denominator, as TRL computes it).
    /// </summary>
    public static float[] Grpo(IReadOnlyList<float> rewards, float epsilon = 1e-4f)
    {
        Check(rewards);
        int n = rewards.Count;
        if (n < 2) return new float[n];
        double mean = Mean(rewards);
        double variance = rewards.Sum(r => (r - mean) * (r - mean)) / (n - 1);
        double std = Math.Sqrt(variance);
        return rewards.Select(r => std == 0 ? 0f : (float)((r - mean) / (std + epsilon))).ToArray();
    }

    /// <summary>Dr. GRPO: r - mean, without dividing by the group's standard deviation (which biases toward groups that are nearly all right or all wrong).</summary>
    public static float[] DrGrpo(IReadOnlyList<float> rewards)
    {
        Check(rewards);
        if (rewards.Count < 2) return new float[rewards.Count];
        double mean = Mean(rewards);
        return rewards.Select(r => (float)(r - mean)).ToArray();
    }

    /// <summary>RLOO: each reward less the mean of the group's other rewards (leave-one-out baseline).</summary>
    public static float[] Rloo(IReadOnlyList<float> rewards)
    {
        Check(rewards);
        int n = rewards.Count;
        if (n < 2) return new float[n];
        double sum = rewards.Sum(r => (double)r);
        return rewards.Select(r => (float)(r - (sum - r) / (n - 1))).ToArray();
    }

    static double Mean(IReadOnlyList<float> rewards) => rewards.Sum(r => (double)r) / rewards.Count;

    static void Check(IReadOnlyList<float> rewards)
    {
        ArgumentNullException.ThrowIfNull(rewards);
        for (int i = 0; i < rewards.Count; i++)
            if (!float.IsFinite(rewards[i])) throw new ArgumentException($"reward {i} is {rewards[i]}: rewards must be finite", nameof(rewards));
    }
}
