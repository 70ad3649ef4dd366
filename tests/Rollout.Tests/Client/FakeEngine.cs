using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Rollout.Client;
using Rollout.Client.Engines;
using Rollout.Engine.Sampling;

namespace Rollout.Tests.Client;

/// <summary>
/// An engine with no model: each completion is [first prompt token, index], at <see cref="Version"/>. It
/// records every request, and holds a request until <see cref="Hold"/> (when set) lets it go.
/// </summary>
internal sealed class FakeEngine(int vocabSize = 100) : IRolloutEngine
{
    readonly ConcurrentQueue<(int[] Prompt, SamplingParams Sampling)> _requests = new();

    public IReadOnlyCollection<(int[] Prompt, SamplingParams Sampling)> Requests => _requests;
    public Func<IReadOnlyList<int>, Task>? Hold { get; init; }
    public long Version { get; init; }

    public void Validate(IReadOnlyList<int> prompt, SamplingParams sampling)
    {
        sampling.Validate(vocabSize);
        if (prompt.Count == 0) throw new ArgumentException("the prompt needs at least one token", nameof(prompt));
        if (prompt.FirstOrDefault(id => id < 0 || id >= vocabSize, -1) is var bad and not -1)
            throw new ArgumentException($"token {bad} is outside the vocabulary", nameof(prompt));
    }

    public async IAsyncEnumerable<EngineCompletion> GenerateAsync(IReadOnlyList<int> prompt, SamplingParams sampling, CancellationToken endEarly,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _requests.Enqueue(([.. prompt], sampling));
        if (Hold is not null) await Hold(prompt).WaitAsync(cancellationToken);
        for (int i = 0; i < sampling.N; i++)
            yield return new EngineCompletion(i, [prompt[0], i], [-0.5f, -0.25f], [Version, Version], "length");
    }
}

/// <summary>A rollout client over fake engines, to look at routing and streaming without a model.</summary>
internal sealed class FakeRolloutClient(params FakeEngine[] engines) : RolloutClient(engines, null, null)
{
    public override Task<IReadOnlyList<ScoredSequence>> ScoreAsync(IReadOnlyList<ScoreRequest> sequences, ScoreOptions? options = null,
        CancellationToken cancellationToken = default) => throw new NotSupportedException("fake engines score nothing");
}
