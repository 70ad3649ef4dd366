using Rollout.Engine.Core;
using Rollout.Models;

namespace Rollout.Engine;

/// <summary>
/// What code run between two engine steps (<see cref="LlmEngine.RunAtStepBoundaryAsync{T}"/>) may
/// touch: no step is in flight, so the model's parameters can be replaced as a whole, the weight
/// version moved on and the prefix cache flushed without any request seeing a half-applied state.
/// </summary>
public sealed class StepBoundary
{
    readonly EngineCore _core;

    internal StepBoundary(EngineCore core) => _core = core;

    /// <summary>The served model; its parameters may be copied into here.</summary>
    public TransformerModel Model => _core.Model;

    /// <summary>The version stamped on tokens generated from now on. Prefix-cache entries of other versions never match.</summary>
    public long WeightVersion
    {
        get => _core.WeightVersion;
        set => _core.WeightVersion = value;
    }

    /// <summary>Forgets every cached prompt prefix.</summary>
    public void ResetPrefixCache() => _core.ResetPrefixCache();

    /// <summary>Re-makes the model's packed inference copies now, after its parameters changed, so the next step does not pay for it.</summary>
    public void PrepareInference() => _core.Model.PrepareInference();

    /// <summary>
    /// Gives every running sequence's KV back and queues it to run again: it keeps its tokens (and their
    /// version tags), and its KV is computed afresh, under the weights current when it is readmitted.
    /// Returns how many sequences there were.
    /// </summary>
    public int RecomputeRunning() => _core.RecomputeRunning();
}
