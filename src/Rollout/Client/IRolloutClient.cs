using Rollout.Engine.Sampling;

namespace Rollout.Client;

/// <summary>
/// What a training loop calls every step, the same over an in-process engine and over remote
/// <c>rollout serve</c> engines: generate groups of trajectories, and score given tokens.
/// </summary>
public interface IRolloutClient : IAsyncDisposable
{
    /// <summary>
    /// Samples <paramref name="n"/> completions of every prompt (overriding <c>sampling.N</c>) and returns
    /// one group per prompt, in prompt order, once all are done. A group is never split across engines. The whole
    /// call is checked before anything is sent; cancelling aborts every request it started.
    /// </summary>
    Task<IReadOnlyList<TrajectoryGroup>> GenerateAsync(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams sampling,
        CancellationToken cancellationToken = default);

    /// <summary>As <see cref="GenerateAsync"/>, but yields each group as soon as its last completion finishes.</summary>
    IAsyncEnumerable<TrajectoryGroup> StreamAsync(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams sampling,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The logprob of every completion token of each request given everything before it, under the
    /// model and mode <paramref name="options"/> names, with the weight version that computed it. No
    /// token is sampled.
    /// </summary>
    Task<IReadOnlyList<ScoredSequence>> ScoreAsync(IReadOnlyList<ScoreRequest> sequences, ScoreOptions? options = null,
        CancellationToken cancellationToken = default);
}
