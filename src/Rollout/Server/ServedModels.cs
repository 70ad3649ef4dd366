using Rollout.Models.Loading;

namespace Rollout.Server;

/// <summary>
/// The models one server serves, each behind an engine of its own: the policy it generates and scores with,
/// and optionally a frozen reference model (<c>/rl/score</c> with <c>"model": "reference"</c>) and a reward
/// model (<c>/rl/reward</c>).
/// </summary>
/// <param name="Policy">A causal language model.</param>
public sealed record ServedModels(LoadedModel Policy) : IDisposable
{
    /// <summary>A causal language model scored beside the policy (for a KL penalty); none when null.</summary>
    public LoadedModel? Reference { get; init; }

    /// <summary>A sequence-classification model with one label that computes rewards; none when null.</summary>
    public LoadedModel? Reward { get; init; }

    /// <summary>The draft model the policy's engine speculates with (<see cref="Engine.SpeculativeMethod.DraftModel"/>); none when null.</summary>
    public LoadedModel? Draft { get; init; }

    /// <summary>Disposes every model.</summary>
    public void Dispose()
    {
        Policy.Dispose();
        Reference?.Dispose();
        Reward?.Dispose();
        Draft?.Dispose();
    }
}
