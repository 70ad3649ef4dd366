using Rollout.Client.Engines;
using Rollout.Client.Runs;
using Rollout.Engine.Sampling;

namespace Rollout.Client;

/// <summary>
/// A rollout client over one or more <c>rollout serve</c> engines (replicas of one model), speaking
/// MessagePack to <c>/rl/generate</c> (streamed) and <c>/rl/score</c>. Each group goes whole to the engine
/// with the fewest sequences this client has outstanding there; scoring splits a call evenly across the
/// engines. A refusal or failure of a server is a <see cref="RolloutServerException"/> with its status and
/// message; cancelling drops the HTTP requests, which the servers answer by aborting them.
/// </summary>
public sealed class RemoteRolloutClient : RolloutClient
{
    readonly HttpClient _http;
    readonly RemoteEngine[] _engines;
    readonly RemoteRolloutOptions _options;

    /// <summary>A client over the servers at <paramref name="engines"/> (their base URLs, e.g. <c>http://10.0.0.7:8000/</c>).</summary>
    public RemoteRolloutClient(IReadOnlyList<Uri> engines, RemoteRolloutOptions? options = null)
        : this(options ?? new RemoteRolloutOptions(), engines)
    {
    }

    RemoteRolloutClient(RemoteRolloutOptions options, IReadOnlyList<Uri> engines)
        : this(Connect(engines, options), options)
    {
    }

    RemoteRolloutClient((HttpClient Http, RemoteEngine[] Engines) connection, RemoteRolloutOptions options)
        : base(connection.Engines, options, options.Tokenizer)
    {
        (_http, _engines) = connection;
        _options = options;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">An empty prompt or a token outside the vocabulary; nothing was sent.</exception>
    /// <exception cref="RolloutServerException">A server refused or failed its part.</exception>
    public override async Task<IReadOnlyList<ScoredSequence>> ScoreAsync(IReadOnlyList<ScoreRequest> sequences, ScoreOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= new ScoreOptions();
        for (int i = 0; i < sequences.Count; i++)
        {
            try
            {
                _engines[0].ValidateScore(sequences[i] ?? throw new ArgumentException("the sequence is null"), options);
            }
            catch (ArgumentException e)
            {
                throw IndexedArgument.Error(nameof(sequences), i, e);
            }
        }
        int perEngine = (sequences.Count + _engines.Length - 1) / _engines.Length;
        var chunks = sequences.Chunk(Math.Max(1, perEngine)).ToArray();
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Lifetime);
        var answers = await AllOrNothing.RunAsync(chunks.Length, (i, ct) => _engines[i].ScoreAsync(new RlScoreRequest
        {
            Sequences = [.. chunks[i].Select(s => new RlScoreSequence { PromptIds = [.. s.PromptTokenIds], CompletionIds = [.. s.CompletionTokenIds] })],
            Model = options.Model == ScoreModel.Reference ? "reference" : "policy",
            LogprobsMode = options.Mode == LogprobsMode.Processed ? "processed" : "raw",
            Sampling = options.Sampling is { } sampling ? RlSampling.From(sampling) : null,
        }, ct), lifetime.Token);
        var results = answers.SelectMany(a => a).Select(r => new ScoredSequence(r.Logprobs, r.WeightVersion)).ToArray();
        if (options.Model == ScoreModel.Policy) foreach (var r in results) Watermark.Observe([r.WeightVersion]);
        return results;
    }

    private protected override ValueTask DisposeCoreAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    internal override void RequireEarlyStop()
    {
        if (_options.AdminToken is null)
            throw new InvalidOperationException("ending a step early aborts requests through /rl/abort, an admin endpoint: set RemoteRolloutOptions.AdminToken");
    }

    static (HttpClient, RemoteEngine[]) Connect(IReadOnlyList<Uri> engines, RemoteRolloutOptions options)
    {
        ArgumentNullException.ThrowIfNull(engines);
        if (engines.Count == 0) throw new ArgumentException("give at least one engine URL", nameof(engines));
        foreach (var url in engines)
            if (url is null || !url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException($"'{url}' is not an absolute http(s) URL", nameof(engines));
        // A generation streams for as long as it runs: it ends by cancellation, not by a client-wide timeout. A request
        // dropped half-read closes its connection at once instead of draining it, so the server aborts it at once.
        var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { Timeout = Timeout.InfiniteTimeSpan };
        // Relative paths resolve under the base only when it ends with '/'.
        return (http, [.. engines.Select(url => new RemoteEngine(http, url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/"), options))]);
    }
}
