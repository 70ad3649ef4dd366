namespace Rollout.Rewards;

/// <summary>
/// A reward computed over a batch of completions (a rule, a checker, a remote grader, a reward model):
/// one value per input, in input order. <see cref="RewardFunction"/> wraps plain delegates and reward
/// models as one; a <see cref="RewardPipeline"/> bounds every call by its timeout and records, rather
/// than propagates, what goes wrong.
/// </summary>
public interface IRewardFunction
{
    /// <summary>
    /// One finite reward per input of <paramref name="batch"/>, in order. Should stop once
    /// <paramref name="cancellationToken"/> fires: the pipeline cancels it at its timeout.
    /// </summary>
    Task<IReadOnlyList<float>> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken);
}
