using Rollout.Client;
using Rollout.Engine;

namespace Rollout.Rewards;

/// <summary>
/// A reward model served by an <see cref="LlmEngine"/> in this process (a sequence-classification head):
/// each sequence is its prompt followed by its completion, scored at its last token, batched with
/// whatever else the engine runs and through its prefix cache. It does not own the engine.
/// </summary>
public sealed class EngineRewardModel(LlmEngine engine) : IRewardModel
{
    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A sequence the engine could never score (empty, a token outside the vocabulary, longer than the context); nothing was queued.</exception>
    public async Task<IReadOnlyList<float>> RewardAsync(IReadOnlyList<ScoreRequest> sequences, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var tokens = sequences.Select(s => (IReadOnlyList<int>)[.. s.PromptTokenIds, .. s.CompletionTokenIds]).ToArray();
        for (int i = 0; i < tokens.Length; i++)
        {
            try
            {
                engine.ValidateReward(tokens[i]);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"sequences[{i}]: {e.Message}", nameof(sequences), e);
            }
        }
        var results = await Task.WhenAll(tokens.Select(t => engine.RewardAsync(t, cancellationToken)));
        return results.Select(r => r.Reward).ToArray();
    }
}
