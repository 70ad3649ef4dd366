using Rollout.Client;

namespace Rollout.Rewards;

/// <summary>
/// A learned reward: a sequence-classification head that scores whole sequences, served in process by
/// the engine or remotely over <c>POST /rl/reward</c>. A pipeline runs one as a component through
/// <see cref="RewardFunction.FromModel"/>.
/// </summary>
public interface IRewardModel
{
    /// <summary>One score per sequence (its prompt followed by its completion), in order.</summary>
    Task<IReadOnlyList<float>> RewardAsync(IReadOnlyList<ScoreRequest> sequences, CancellationToken cancellationToken);
}
