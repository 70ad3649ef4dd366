using MessagePack;

namespace Rollout.Server.Rl;

/// <summary>The body of <c>/rl/score</c>'s answer: one result per sequence, in request order.</summary>
[MessagePackObject]
public sealed class RlScoreResponse
{
    /// <summary>One result per sequence.</summary>
    [Key("results")] public required RlScoreResult[] Results { get; init; }
}

/// <summary>The scored completion of one sequence.</summary>
[MessagePackObject]
public sealed class RlScoreResult
{
    /// <summary>The logprob of each completion token given everything before it; -infinity where processing filtered the token out.</summary>
    [Key("logprobs")] public required float[] Logprobs { get; init; }

    /// <summary>The weight version that computed every one of them.</summary>
    [Key("weight_version")] public long WeightVersion { get; init; }
}

/// <summary>The body of <c>/rl/reward</c>'s answer: one result per sequence, in request order.</summary>
[MessagePackObject]
public sealed class RlRewardResponse
{
    /// <summary>One result per sequence.</summary>
    [Key("results")] public required RlRewardResult[] Results { get; init; }
}

/// <summary>The reward model's score of one sequence.</summary>
[MessagePackObject]
public sealed class RlRewardResult
{
    /// <summary>The reward head's output at the sequence's last token.</summary>
    [Key("reward")] public float Reward { get; init; }

    /// <summary>The reward model's weight version that computed it.</summary>
    [Key("weight_version")] public long WeightVersion { get; init; }
}
