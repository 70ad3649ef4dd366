using Rollout.Engine.Sampling;

namespace Rollout.Client.Engines;

/// <summary>
/// One engine as a <see cref="RolloutClient"/> drives it, in process or behind <c>rollout serve</c>: it
/// checks and runs one prompt's request. It decides nothing about which engine a group goes to, or what
/// becomes of a completion once it is back.
/// </summary>
internal interface IRolloutEngine
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> (or <see cref="InvalidSamplingParametersException"/>) when the
    /// engine would refuse the request, so that a whole call is checked before any of it is sent.
    /// </summary>
    void Validate(IReadOnlyList<int> prompt, SamplingParams sampling);

    /// <summary>
    /// Generates <c>sampling.N</c> completions of <paramref name="prompt"/>, yielding each once it has finished.
    /// When <paramref name="endEarly"/> fires, the request is aborted and its unfinished completions come back
    /// with finish reason <c>abort</c> and the tokens they had. Cancelling <paramref name="cancellationToken"/>
    /// ends the request on the engine and throws.
    /// </summary>
    IAsyncEnumerable<EngineCompletion> GenerateAsync(IReadOnlyList<int> prompt, SamplingParams sampling, CancellationToken endEarly,
        CancellationToken cancellationToken);
}

/// <summary>A finished completion as an engine returns it, before it is tied to its group.</summary>
/// <remarks>The sampling supports are null when not asked for, and may be null too when asked for but no token was generated.</remarks>
internal sealed record EngineCompletion(int Index, IReadOnlyList<int> TokenIds, IReadOnlyList<float> Logprobs, IReadOnlyList<long> WeightVersions,
    string FinishReason, IReadOnlyList<int>? SupportSizes = null, IReadOnlyList<IReadOnlyList<int>>? SupportIds = null);
