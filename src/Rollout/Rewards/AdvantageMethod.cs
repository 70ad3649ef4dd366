namespace Rollout.Rewards;

/// <summary>Which group-relative baseline turns a group's rewards into advantages (see <see cref="GroupAdvantages"/>).</summary>
public enum AdvantageMethod
{
    /// <summary>(r - mean) / (std + epsilon).</summary>
    Grpo,

    /// <summary>r - mean.</summary>
    DrGrpo,

    /// <summary>r less the mean of the group's other rewards.</summary>
    Rloo,
}
