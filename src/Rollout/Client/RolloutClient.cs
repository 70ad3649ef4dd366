using Rollout.Client.Engines;
using Rollout.Client.Runs;
using Rollout.Engine.Sampling;
using Rollout.Models.Tokenization;

namespace Rollout.Client;

/// <summary>
/// What <see cref="LocalRolloutClient"/> and <see cref="RemoteRolloutClient"/> share: groups routed whole to
/// the least-loaded engine, streamed back as they finish, with the staleness rule of
/// <see cref="RolloutClientOptions"/> applied. Both ask each engine for a group exactly alike (one request with
/// <c>n</c> and the caller's seed), so the same seeds give the same trajectories in process and over HTTP.
/// A client does not own in-process engines; disposing it aborts what it still runs.
/// </summary>
public abstract class RolloutClient : IRolloutClient
{
    readonly CancellationTokenSource _lifetime = new();
    long _dropped;
    long _recomputed;

    internal RolloutClient(IReadOnlyList<IRolloutEngine> engines, RolloutClientOptions? options, ITextTokenizer? tokenizer)
    {
        if (engines.Count == 0) throw new ArgumentException("a rollout client needs at least one engine", nameof(engines));
        Options = options ?? new RolloutClientOptions();
        Options.Validate();
        Engines = engines;
        Router = new LeastLoadedRouter(engines.Count);
        Tokenizer = tokenizer;
    }

    /// <summary>The staleness rule this client applies.</summary>
    public RolloutClientOptions Options { get; }

    /// <summary>The newest weight version seen, and how many trajectories the staleness rule dropped or recomputed.</summary>
    public RolloutStatistics Statistics => new(Watermark.Newest, Interlocked.Read(ref _dropped), Interlocked.Read(ref _recomputed));

    internal IReadOnlyList<IRolloutEngine> Engines { get; }
    internal LeastLoadedRouter Router { get; }
    internal VersionWatermark Watermark { get; } = new();
    internal ITextTokenizer? Tokenizer { get; }
    internal CancellationToken Lifetime => _lifetime.Token;

    /// <inheritdoc/>
    /// <remarks>Every trajectory carries logprobs (of the sampled token only, when <c>sampling.Logprobs</c> is null).</remarks>
    /// <exception cref="ArgumentException">No prompt, an empty prompt, or a token outside the vocabulary; nothing was sent.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is below 1; nothing was sent.</exception>
    /// <exception cref="InvalidSamplingParametersException">A sampling parameter out of range; nothing was sent.</exception>
    public async Task<IReadOnlyList<TrajectoryGroup>> GenerateAsync(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams sampling,
        CancellationToken cancellationToken = default)
    {
        var groups = new List<TrajectoryGroup>(prompts?.Count ?? 0);
        await foreach (var group in StreamAsync(prompts!, n, sampling, cancellationToken)) groups.Add(group);
        return [.. groups.OrderBy(g => g.PromptIndex)];
    }

    /// <inheritdoc/>
    /// <remarks>The inputs are checked when this is called, before anything is sent, as <see cref="GenerateAsync"/> checks them.</remarks>
    public IAsyncEnumerable<TrajectoryGroup> StreamAsync(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams sampling,
        CancellationToken cancellationToken = default) =>
        Run(Plan(prompts, n, sampling, firstPromptIndex: 0), sampling, stop: null, cancellationToken);

    /// <inheritdoc/>
    public abstract Task<IReadOnlyList<ScoredSequence>> ScoreAsync(IReadOnlyList<ScoreRequest> sequences, ScoreOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>Aborts every request this client still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        await _lifetime.CancelAsync();
        await DisposeCoreAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the subclass owns, after every run has been told to end.</summary>
    private protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    /// <summary>Throws when this client cannot end a step early (<see cref="PartialRollouts"/>).</summary>
    internal virtual void RequireEarlyStop()
    {
    }

    /// <summary>Checks a call whole, then makes one pending group per prompt, numbered from <paramref name="firstPromptIndex"/>.</summary>
    internal IReadOnlyList<PendingGroup> Plan(IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams sampling, int firstPromptIndex)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(sampling);
        if (prompts.Count == 0) throw new ArgumentException("there are no prompts: give at least one", nameof(prompts));
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var request = GroupRequests.First(sampling, n);
        var groups = new PendingGroup[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            var prompt = prompts[i] ?? throw new ArgumentException($"prompts[{i}] is null", nameof(prompts));
            try
            {
                Engines[0].Validate(prompt, request);
            }
            catch (ArgumentException e)
            {
                throw IndexedArgument.Error(nameof(prompts), i, e);
            }
            groups[i] = new PendingGroup(firstPromptIndex + i, [.. prompt], n);
        }
        return groups;
    }

    internal IAsyncEnumerable<TrajectoryGroup> Run(IReadOnlyList<PendingGroup> groups, SamplingParams sampling, EarlyStop? stop,
        CancellationToken cancellationToken) =>
        new RolloutRun(this, sampling).RunAsync(groups, stop, cancellationToken);

    internal void CountDropped(int trajectories) => Interlocked.Add(ref _dropped, trajectories);

    internal void CountRecomputed(int trajectories) => Interlocked.Add(ref _recomputed, trajectories);
}
