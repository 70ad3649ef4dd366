using Rollout.Client;

namespace Rollout.Rewards;

/// <summary>Reward functions from delegates and reward models, for components of a <see cref="RewardPipeline"/>.</summary>
public static class RewardFunction
{
    /// <summary>
    /// A function that scores each input on its own, in order. A delegate that throws for one input fails
    /// the whole call, so a rule should score what it cannot parse (0, say) rather than throw.
    /// </summary>
    public static IRewardFunction FromItem(Func<RewardInput, float> reward)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return FromBatchAsync((batch, cancellationToken) =>
        {
            var values = new float[batch.Count];
            for (int i = 0; i < values.Length; i++)
            {
                // A slow rule stops between inputs once the pipeline gives up on it.
                cancellationToken.ThrowIfCancellationRequested();
                values[i] = reward(batch[i]);
            }
            return Task.FromResult<IReadOnlyList<float>>(values);
        });
    }

    /// <summary>A function that scores each input asynchronously on its own (a sandbox run, a remote check), all inputs at once.</summary>
    public static IRewardFunction FromItemAsync(Func<RewardInput, CancellationToken, Task<float>> reward)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return FromBatchAsync(async (batch, cancellationToken) => await Task.WhenAll(batch.Select(input => reward(input, cancellationToken))));
    }

    /// <summary>A function that scores the whole batch in one call.</summary>
    public static IRewardFunction FromBatchAsync(Func<IReadOnlyList<RewardInput>, CancellationToken, Task<IReadOnlyList<float>>> reward)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return new Delegated(reward);
    }

    /// <summary>A reward model's score of each input's prompt and completion tokens.</summary>
    public static IRewardFunction FromModel(IRewardModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return FromBatchAsync((batch, cancellationToken) =>
            model.RewardAsync(batch.Select(input => new ScoreRequest(input.PromptTokenIds, input.CompletionTokenIds)).ToArray(), cancellationToken));
    }

    sealed class Delegated(Func<IReadOnlyList<RewardInput>, CancellationToken, Task<IReadOnlyList<float>>> reward) : IRewardFunction
    {
        public Task<IReadOnlyList<float>> ScoreAsync(IReadOnlyList<RewardInput> batch, CancellationToken cancellationToken) =>
            reward(batch, cancellationToken);
    }
}
