namespace Rollout.Rewards;

/// <summary>Why a component gave an item no value.</summary>
public enum RewardFailureKind
{
    /// <summary>The call did not finish within the pipeline's timeout.</summary>
    Timeout,

    /// <summary>The call threw.</summary>
    Exception,

    /// <summary>The value is NaN or infinite.</summary>
    NonFinite,

    /// <summary>The call returned a number of values other than the number of inputs.</summary>
    WrongCount,
}

/// <summary>A component that gave one item no usable value, and why.</summary>
/// <param name="Component">The component's name.</param>
/// <param name="Kind">What went wrong.</param>
/// <param name="Detail">The exception's message, the value, the counts: what a person needs to fix it.</param>
public sealed record RewardFailure(string Component, RewardFailureKind Kind, string Detail)
{
    /// <summary><c>timeout</c>, <c>exception: message</c>, <c>non-finite: NaN</c> or <c>wrong count: ...</c>.</summary>
    public string Reason => Kind switch
    {
        RewardFailureKind.Timeout => "timeout",
        RewardFailureKind.Exception => $"exception: {Detail}",
        RewardFailureKind.NonFinite => $"non-finite: {Detail}",
        _ => $"wrong count: {Detail}",
    };

    /// <inheritdoc />
    public override string ToString() => $"{Component}: {Reason}";
}
