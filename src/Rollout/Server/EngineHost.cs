using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Chat;
using Rollout.Models.Loading;
using Rollout.Models.Tokenization;
using Rollout.Server.Http;
using Rollout.Server.Metrics;
using Rollout.WeightSync.Receiver;

namespace Rollout.Server;

/// <summary>
/// The engines as the endpoints see them: the policy model, its tokenizer and chat template, the reference
/// and reward engines beside it when the server has them, and the groups of engine requests each HTTP
/// request started (under its request id, for logs and <c>/rl/abort</c>). A group is checked whole before
/// any of it is added, and whatever of it is still running when its HTTP request ends (finished, failed or
/// disconnected) is aborted, so its KV blocks go back.
/// </summary>
internal sealed class EngineHost : IDisposable
{
    readonly ConcurrentDictionary<string, Group> _groups = new();
    readonly Lazy<ChatTemplate?> _chatTemplate;
    readonly ServedModels _models;

    /// <summary>Starts an engine per model (the host owns them and the models from here on).</summary>
    /// <exception cref="ArgumentException">The reference model is no causal LM, or the reward model no one-label sequence-classification model.</exception>
    public EngineHost(ServedModels models, EngineOptions engineOptions, string name, ServerOptions options)
    {
        if (models.Reference is { Model: not CausalLanguageModel } reference)
            throw new ArgumentException($"the reference model {reference.Source} is a {reference.Config.Architecture}: it must be a causal language model", nameof(models));
        if (models.Reward is { Model: not SequenceClassificationModel } reward)
            throw new ArgumentException($"the reward model {reward.Source} is a {reward.Config.Architecture}: it must be a sequence-classification model (XForSequenceClassification)", nameof(models));
        _models = models;
        Model = models.Policy;
        var started = new List<LlmEngine>();
        // Only the policy generates: the reference and reward engines only score, and never speculate.
        LlmEngine Start(LoadedModel model)
        {
            var engine = LlmEngine.Create(model, model == models.Policy ? engineOptions : engineOptions with { Speculation = null });
            started.Add(engine);
            return engine;
        }
        try
        {
            Engine = Start(models.Policy);
            Reference = models.Reference is { } referenceModel ? Start(referenceModel) : null;
            Rewards = models.Reward is { } rewardModel ? Start(rewardModel) : null;
        }
        catch
        {
            foreach (var engine in started) engine.Dispose();
            throw;
        }
        Name = name;
        Options = options;
        var policy = Engine;
        Metrics = new ServerMetrics(() => policy.Metrics);
        Weights = new WeightReceiver(Engine);
        _chatTemplate = new(() => models.Policy.Tokenizer?.ChatTemplate is { } source ? ChatTemplate.Parse(source) : null);
    }

    public LoadedModel Model { get; }

    /// <summary>The policy: it generates, and scores under its current weights.</summary>
    public LlmEngine Engine { get; }

    /// <summary>The reference model's engine (<c>--reference-model</c>); null when the server has none.</summary>
    public LlmEngine? Reference { get; }

    /// <summary>The reward model's engine (<c>--reward-model</c>); null when the server has none.</summary>
    public LlmEngine? Rewards { get; }
    public string Name { get; }
    public ServerOptions Options { get; }
    public ServerMetrics Metrics { get; }
    public WeightReceiver Weights { get; }
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    public int VocabSize => Model.Config.VocabSize;
    public int MaxModelLength => Engine.MaxModelLength;
    public ITextTokenizer? Tokenizer => Model.Tokenizer;

    /// <summary>The model's chat template; 400 when it has none.</summary>
    public ChatTemplate ChatTemplate => _chatTemplate.Value
        ?? throw ApiException.BadRequest($"model '{Name}' has no chat template: use /v1/completions", "messages");

    /// <summary>The tokenizer; 400 when the model has none (token ids still work).</summary>
    public ITextTokenizer RequireTokenizer(string param) => Tokenizer
        ?? throw ApiException.BadRequest($"model '{Name}' has no tokenizer: send token ids", param);

    /// <summary>Refuses a request for another model than the one served.</summary>
    public void CheckModel(RequestBody body, bool required)
    {
        string? model = body.String("model");
        if (model is null && required) throw ApiException.BadRequest("model is required", "model");
        if (model is not null && model != Name)
            throw new ApiException(System.Net.HttpStatusCode.NotFound, $"the model '{model}' does not exist: this server serves '{Name}'", param: "model", code: "model_not_found");
    }

    /// <summary>
    /// Checks every prompt with its parameters, then adds them all as one group under <paramref name="groupId"/>;
    /// nothing is added when any is refused (400 naming the field: <paramref name="promptParam"/> names prompt i
    /// as the request spelled it, <c>prompt</c> or <c>prompt[i]</c> when null; <paramref name="samplingPrefix"/>
    /// leads the sampling fields' names).
    /// </summary>
    public Group Start(string groupId, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<SamplingParams> sampling, CancellationToken cancellationToken,
        Func<int, string>? promptParam = null, string samplingPrefix = "")
    {
        promptParam ??= i => prompts.Count == 1 ? "prompt" : $"prompt[{i}]";
        if (prompts.Count == 0) throw ApiException.BadRequest("the request has no prompt", "prompt");
        long completions = sampling.Sum(s => (long)s.N);
        if (completions > Options.MaxRequestSequences)
            throw ApiException.BadRequest($"the request asks for {completions} completions (prompts x n); this server allows {Options.MaxRequestSequences}", samplingPrefix + "n");
        for (int i = 0; i < prompts.Count; i++)
        {
            string param = promptParam(i);
            if (prompts[i].Count == 0) throw ApiException.BadRequest($"{param} is empty: it needs at least one token", param);
            try
            {
                Engine.Validate(prompts[i], sampling[i]);
            }
            catch (InvalidSamplingParametersException e)
            {
                throw ApiException.BadRequest(e.Message, samplingPrefix + e.ParameterName);
            }
            catch (ArgumentException e)
            {
                throw ApiException.BadRequest(e, param);
            }
        }
        var group = new Group(this, groupId);
        if (!_groups.TryAdd(groupId, group))
            throw new ApiException(System.Net.HttpStatusCode.Conflict, $"request id '{groupId}' is already in use", param: "X-Request-Id");
        try
        {
            for (int i = 0; i < prompts.Count; i++)
                group.Add(Engine.AddRequest(prompts[i], sampling[i], $"{groupId}/{i}"), cancellationToken);
        }
        catch (ArgumentException)
        {
            // Everything was checked above: what is left is an id whose last requests the engine is still aborting.
            group.Dispose();
            throw new ApiException(System.Net.HttpStatusCode.Conflict, $"request id '{groupId}' is still in use by requests being aborted", param: "X-Request-Id");
        }
        catch
        {
            group.Dispose();
            throw;
        }
        return group;
    }

    /// <summary>Aborts the groups with these ids; returns how many were running.</summary>
    public int Abort(IEnumerable<string> groupIds)
    {
        int aborted = 0;
        foreach (string id in groupIds)
            if (_groups.TryGetValue(id, out var group))
            {
                group.AbortAll();
                aborted++;
            }
        return aborted;
    }

    /// <summary>Aborts every request of every engine.</summary>
    public Task AbortAllAsync() =>
        Task.WhenAll(new[] { Engine, Reference, Rewards }.OfType<LlmEngine>().Select(e => e.AbortAllAsync()));

    public void Dispose()
    {
        Engine.Dispose();
        Reference?.Dispose();
        Rewards?.Dispose();
        _models.Dispose();
    }

    /// <summary>The engine requests one HTTP request started, one per prompt, in prompt order.</summary>
    internal sealed class Group(EngineHost host, string id) : IDisposable
    {
        readonly List<GenerationRequest> _requests = [];
        readonly List<IAsyncEnumerable<RequestOutput>> _streams = [];
        readonly long _arrival = Stopwatch.GetTimestamp();

        public string Id { get; } = id;

        /// <summary>Each prompt's stream of snapshots.</summary>
        public IReadOnlyList<IAsyncEnumerable<RequestOutput>> Streams => _streams;

        public void Add(GenerationRequest request, CancellationToken cancellationToken)
        {
            _requests.Add(request);
            _streams.Add(Observe(request, cancellationToken));
        }

        /// <summary>Every prompt's final snapshot, in prompt order.</summary>
        public async Task<RequestOutput[]> FinalsAsync()
        {
            var finals = new Task<RequestOutput>[_streams.Count];
            for (int i = 0; i < finals.Length; i++) finals[i] = LastAsync(_streams[i]);
            return await Task.WhenAll(finals);
        }

        /// <summary>Every snapshot of every prompt, tagged with its prompt's index, as they come.</summary>
        public async IAsyncEnumerable<(int Prompt, RequestOutput Output)> MergedAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var merged = System.Threading.Channels.Channel.CreateUnbounded<(int, RequestOutput)>();
            var pumps = _streams.Select(async (stream, i) =>
            {
                await foreach (var output in stream.WithCancellation(cancellationToken)) await merged.Writer.WriteAsync((i, output), cancellationToken);
            }).ToArray();
            _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
            await foreach (var item in merged.Reader.ReadAllAsync(cancellationToken)) yield return item;
        }

        public void AbortAll()
        {
            foreach (var request in _requests) host.Engine.Abort(request.RequestId);
        }

        /// <summary>Aborts whatever still runs and forgets the group.</summary>
        public void Dispose()
        {
            AbortAll();
            host._groups.TryRemove(new KeyValuePair<string, Group>(Id, this));
        }

        static async Task<RequestOutput> LastAsync(IAsyncEnumerable<RequestOutput> stream)
        {
            RequestOutput? last = null;
            await foreach (var output in stream) last = output;
            return last ?? throw new InvalidOperationException("the engine ended a request without output");
        }

        async IAsyncEnumerable<RequestOutput> Observe(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            using var abortOnCancel = cancellationToken.Register(() => host.Engine.Abort(request.RequestId));
            var lastTokens = new Dictionary<int, (int Count, long At)>();
            await foreach (var output in request.Outputs.WithCancellation(cancellationToken))
            {
                long now = Stopwatch.GetTimestamp();
                foreach (var completion in output.Outputs)
                {
                    int tokens = completion.TokenIds.Count;
                    if (!lastTokens.TryGetValue(completion.Index, out var previous))
                    {
                        if (tokens == 0) continue;
                        host.Metrics.FirstToken(Stopwatch.GetElapsedTime(_arrival, now));
                    }
                    else if (tokens > previous.Count)
                    {
                        host.Metrics.InterToken(Stopwatch.GetElapsedTime(previous.At, now) / (tokens - previous.Count));
                    }
                    else continue;
                    lastTokens[completion.Index] = (tokens, now);
                }
                if (output.Finished) host.Metrics.Finished(Stopwatch.GetElapsedTime(_arrival, now));
                yield return output;
            }
        }
    }
}
