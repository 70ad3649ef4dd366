using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Rollout.Engine.Core;
using Rollout.Engine.Requests;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.Models.Tokenization;

namespace Rollout.Engine;

/// <summary>
/// The generation engine: requests in from any thread, outputs out as async streams, one loop
/// thread stepping the model (continuous batching over a paged KV cache with prefix caching).
/// Between steps it applies queued requests, aborts, pauses and step-boundary actions (where weight
/// updates go), so a step never sees a half-applied change. Over a causal language model it generates and
/// scores tokens; over a reward model (a sequence-classification head with one label) it computes rewards.
/// </summary>
public sealed class LlmEngine : IDisposable
{
    readonly EngineCore _core;
    readonly ConcurrentQueue<Action> _commands = new();
    readonly SemaphoreSlim _wake = new(0);
    readonly ConcurrentDictionary<string, ChannelWriter<RequestOutput>> _streams = new();
    readonly Thread _loop;
    volatile EngineMetrics _metrics;
    // Loop-thread state: whether stepping stopped, whether new requests are held back (and which), who waits for the engine to drain.
    volatile bool _paused;
    volatile bool _holding;
    readonly List<HeldRequest> _held = [];
    readonly List<TaskCompletionSource> _drainWaiters = [];
    volatile bool _stopping;
    long _nextRequestId;

    /// <summary>Starts an engine over a loaded causal language model or reward model.</summary>
    /// <exception cref="ArgumentException">The model is neither a causal LM nor a reward model with one label, or the options are invalid.</exception>
    public static LlmEngine Create(LoadedModel model, EngineOptions? options = null) =>
        new(model.Model, model.Tokenizer, model.StopTokenIds, options);

    /// <summary>Starts an engine; <paramref name="eosTokenIds"/> end a completion unless a request ignores EOS.</summary>
    /// <exception cref="ArgumentException">The model is neither a causal LM nor a reward model with one label, or the options are invalid.</exception>
    public LlmEngine(TransformerModel model, ITextTokenizer? tokenizer, IReadOnlyCollection<int> eosTokenIds, EngineOptions? options = null)
    {
        _core = new EngineCore(model, tokenizer, eosTokenIds, options ?? new EngineOptions());
        Tokenizer = tokenizer;
        _metrics = CurrentMetrics();
        _loop = new Thread(Loop) { IsBackground = true, Name = "rollout-engine" };
        _loop.Start();
    }

    /// <summary>The KV cache's size, fixed at start.</summary>
    public KvCacheCapacity KvCache => _core.Capacity;

    /// <summary>Longest prompt + completion the engine runs.</summary>
    public int MaxModelLength => _core.MaxModelLength;

    /// <summary>The served model. Read it freely; change its parameters only inside <see cref="RunAtStepBoundaryAsync{T}"/>.</summary>
    public TransformerModel Model => _core.Model;

    /// <summary>The model's tokenizer, if it has one.</summary>
    public ITextTokenizer? Tokenizer { get; }

    /// <summary>Metrics as of the last step or command.</summary>
    public EngineMetrics Metrics => _metrics;

    /// <summary>
    /// Queues a request. Invalid input throws here and nothing is queued:
    /// <see cref="InvalidSamplingParametersException"/> for parameters, <see cref="ArgumentException"/>
    /// for the prompt or a request id already in use, <see cref="InvalidOperationException"/> when the
    /// engine serves a reward model.
    /// </summary>
    public GenerationRequest AddRequest(IReadOnlyList<int> promptTokenIds, SamplingParams sampling, string? requestId = null)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        ArgumentNullException.ThrowIfNull(sampling);
        var prompt = promptTokenIds.ToArray();
        _core.Validate(prompt, sampling);
        requestId ??= NextId("req");
        var channel = Channel.CreateUnbounded<RequestOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        if (!_streams.TryAdd(requestId, channel.Writer))
            throw new ArgumentException($"request id '{requestId}' is already in use", nameof(requestId));
        void Add()
        {
            try
            {
                _core.Add(requestId, prompt, sampling);
            }
            catch (Exception e)
            {
                if (_streams.TryRemove(requestId, out var writer)) writer.TryComplete(e);
            }
        }
        Admit(new HeldRequest(requestId, Add, () => Publish(AbortedBeforeStart(requestId, prompt, sampling))));
        return new GenerationRequest(requestId, channel.Reader.ReadAllAsync());
    }

    /// <summary>
    /// The logprob of every completion token given the prompt and the completion tokens before it, under the
    /// engine's current weights, all computed by one weight version (a weight update landing half-way has the
    /// sequence recomputed). It runs in the engine loop like a prompt that samples nothing: batched with other
    /// requests, chunked under the token budget, prefix-cached. <see cref="LogprobsMode.Raw"/> is the model's
    /// <c>log_softmax</c>; <see cref="LogprobsMode.Processed"/> applies <paramref name="processing"/>'s
    /// transforms (temperature, top-k/p, min-p, penalties, logit bias) first, as the sampler would when
    /// drawing that completion, so filtered-out tokens score -infinity. Invalid input throws here and nothing
    /// is queued (<see cref="ValidateScore"/>); an empty completion scores as empty. Cancelling aborts the
    /// request and frees its KV.
    /// </summary>
    public Task<ScoreResult> ScoreAsync(IReadOnlyList<int> promptTokenIds, IReadOnlyList<int> completionTokenIds, LogprobsMode mode = LogprobsMode.Raw,
        SamplingParams? processing = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        ArgumentNullException.ThrowIfNull(completionTokenIds);
        if (completionTokenIds.Count == 0)
        {
            _core.ValidateScoring(promptTokenIds, completionTokenIds, mode, processing);
            return Task.FromResult(new ScoreResult([], _metrics.WeightVersion));
        }
        return SubmitAsync(_core.CreateScoring(NextId("score"), promptTokenIds, completionTokenIds, mode, processing), cancellationToken);
    }

    /// <summary>
    /// Throws, as <see cref="ScoreAsync"/> would, when a completion could never be scored:
    /// <see cref="InvalidOperationException"/> when the engine serves a reward model,
    /// <see cref="InvalidSamplingParametersException"/> for <paramref name="processing"/>,
    /// <see cref="ArgumentException"/> for an empty prompt, tokens outside the vocabulary or prompt and
    /// completion longer than <see cref="MaxModelLength"/>.
    /// </summary>
    public void ValidateScore(IReadOnlyList<int> promptTokenIds, IReadOnlyList<int> completionTokenIds, LogprobsMode mode = LogprobsMode.Raw,
        SamplingParams? processing = null)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        ArgumentNullException.ThrowIfNull(completionTokenIds);
        _core.ValidateScoring(promptTokenIds, completionTokenIds, mode, processing);
    }

    /// <summary>
    /// The reward model's score of a sequence: its sequence-classification head at the last token (as HF
    /// computes it), under the current weights. Runs in the engine loop like a prompt that samples nothing,
    /// prefix-cached. Invalid input throws here and nothing is queued (<see cref="ValidateReward"/>);
    /// cancelling aborts the request and frees its KV.
    /// </summary>
    public Task<RewardResult> RewardAsync(IReadOnlyList<int> tokenIds, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        ArgumentNullException.ThrowIfNull(tokenIds);
        return SubmitAsync(_core.CreateReward(NextId("reward"), tokenIds), ct);
    }

    /// <summary>
    /// Throws, as <see cref="RewardAsync"/> would, when a sequence could never get a reward:
    /// <see cref="InvalidOperationException"/> when the engine serves no reward model,
    /// <see cref="ArgumentException"/> for no tokens, tokens outside the vocabulary or more than <see cref="MaxModelLength"/>.
    /// </summary>
    public void ValidateReward(IReadOnlyList<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        _core.ValidateReward(tokenIds);
    }

    async Task<T> SubmitAsync<T>(PrefillRequest<T> request, CancellationToken cancellationToken)
    {
        void Add()
        {
            // Cancelled while a pause held it back: nothing left to compute.
            if (request.Task.IsCompleted) return;
            try
            {
                _core.Add(request);
            }
            catch (Exception e)
            {
                request.Fail(e);
            }
        }
        Admit(new HeldRequest(request.Id, Add, () => request.Cancel()));
        await using var cancelOnLoop = cancellationToken.Register(() =>
        {
            if (!_stopping) Enqueue(() => _core.Cancel(request, cancellationToken));
        });
        return await request.Task;
    }

    /// <summary>Adds a request on the loop, or holds it back while a pause holds new requests.</summary>
    void Admit(HeldRequest request) => Enqueue(() =>
    {
        if (_holding) _held.Add(request);
        else request.Add();
    });

    string NextId(string kind) => $"{kind}-{Interlocked.Increment(ref _nextRequestId)}";

    /// <summary>
    /// Throws, as <see cref="AddRequest"/> would, when a request could never run: bad parameters
    /// (<see cref="InvalidSamplingParametersException"/>), tokens outside the vocabulary or no room to
    /// generate (<see cref="ArgumentException"/>), a reward model (<see cref="InvalidOperationException"/>).
    /// Lets a caller check a batch of requests before adding any.
    /// </summary>
    public void Validate(IReadOnlyList<int> promptTokenIds, SamplingParams sampling)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        _core.Validate(promptTokenIds, sampling);
    }

    /// <summary>Generates for a prompt of token ids, streaming cumulative snapshots; cancelling aborts the request.</summary>
    public async IAsyncEnumerable<RequestOutput> GenerateAsync(IReadOnlyList<int> promptTokenIds, SamplingParams sampling,
        string? requestId = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = AddRequest(promptTokenIds, sampling, requestId);
        await using var abortOnCancel = cancellationToken.Register(() => Abort(request.RequestId));
        await foreach (var output in request.Outputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return output;
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Generates for a text prompt (encoded with the model's tokenizer, special tokens added).</summary>
    /// <exception cref="InvalidOperationException">The model has no tokenizer.</exception>
    public IAsyncEnumerable<RequestOutput> GenerateAsync(string prompt, SamplingParams sampling,
        string? requestId = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(Encode(prompt), sampling, requestId, cancellationToken);

    /// <summary>
    /// Offline batch generation: every prompt with the same parameters, run together; returns the
    /// final output of each, in prompt order.
    /// </summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, SamplingParams sampling)
    {
        var requests = new List<GenerationRequest>(prompts.Count);
        try
        {
            foreach (var prompt in prompts) requests.Add(AddRequest(prompt, sampling));
        }
        catch
        {
            foreach (var r in requests) Abort(r.RequestId);
            throw;
        }
        return Task.WhenAll(requests.Select(r => r.CompletionAsync())).GetAwaiter().GetResult();
    }

    /// <summary>Offline batch generation from text prompts.</summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<string> prompts, SamplingParams sampling) =>
        Generate(prompts.Select(p => (IReadOnlyList<int>)Encode(p)).ToArray(), sampling);

    /// <summary>
    /// Aborts a request: its stream ends with a snapshot whose unfinished completions have finish
    /// reason <c>abort</c>. Returns false if the request is unknown or already finished.
    /// </summary>
    public bool Abort(string requestId)
    {
        if (!_streams.ContainsKey(requestId)) return false;
        Enqueue(() =>
        {
            if (_core.Abort(requestId) is { } final) Publish(final);
            else if (_held.FindIndex(h => h.RequestId == requestId) is >= 0 and var i)
            {
                _held[i].Abort();
                _held.RemoveAt(i);
            }
        });
        return true;
    }

    /// <summary>Aborts every request, running, waiting or held back by a pause; returns how many there were.</summary>
    public Task<int> AbortAllAsync() => RunAtStepBoundaryAsync(_ => AbortEverything());

    /// <summary>Whether the engine is paused or pausing (new requests are held back until <see cref="Resume"/>).</summary>
    public bool IsPaused => _paused || _holding;

    /// <summary>
    /// Pauses the engine; returns once it is paused: with <see cref="PauseMode.Keep"/> (the default) at
    /// the next step boundary, requests kept where they are; with <see cref="PauseMode.Abort"/> once
    /// every request has ended as aborted; with <see cref="PauseMode.Wait"/> once every request in the
    /// engine has finished. Requests added while paused wait for <see cref="Resume"/>. Pausing a paused
    /// engine changes nothing.
    /// </summary>
    public Task PauseAsync(PauseMode mode = PauseMode.Keep)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(() =>
        {
            _holding = true;
            if (mode == PauseMode.Abort) AbortEverything();
            // A paused engine stays as it is: waiting for it to drain would never end.
            if (_paused || mode != PauseMode.Wait || !_core.HasUnfinished)
            {
                _paused = true;
                paused.SetResult();
            }
            else
            {
                _drainWaiters.Add(paused);
            }
        });
        return paused.Task;
    }

    /// <summary>Resumes stepping after <see cref="PauseAsync"/> and admits the requests held back meanwhile; resuming a running engine changes nothing.</summary>
    public void Resume() => Enqueue(() =>
    {
        _paused = false;
        _holding = false;
        foreach (var held in _held) held.Add();
        _held.Clear();
    });

    int AbortEverything()
    {
        int prefills = _core.PrefillRequests;
        var finals = _core.AbortAll();
        foreach (var final in finals) Publish(final);
        foreach (var held in _held) held.Abort();
        int count = prefills + finals.Count + _held.Count;
        _held.Clear();
        return count;
    }

    static RequestOutput AbortedBeforeStart(string requestId, IReadOnlyList<int> prompt, SamplingParams sampling) => new()
    {
        RequestId = requestId,
        PromptTokenIds = prompt,
        Outputs = Enumerable.Range(0, sampling.N).Select(i => new CompletionOutput(new Sequences.AppendOnlyList<char>().Snapshot())
        {
            Index = i,
            TokenIds = [],
            NewText = "",
            WeightVersions = [],
            FinishReason = "abort",
        }).ToArray(),
    };

    /// <summary>
    /// Runs <paramref name="action"/> on the engine's loop between two steps (weight updates, version
    /// changes, cache flushes) and returns its result. Exceptions propagate to the caller; the engine
    /// keeps serving.
    /// </summary>
    public Task<T> RunAtStepBoundaryAsync<T>(Func<StepBoundary, T> action)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(() =>
        {
            try
            {
                var result = action(new StepBoundary(_core));
                // Whoever awaits this reads Metrics next: let them see what their action, and every command before it, did.
                _metrics = CurrentMetrics();
                done.SetResult(result);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    /// <summary>Stops the loop, ending every request as aborted, and frees the KV cache.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Release();
        _loop.Join();
        AbortEverything();
        foreach (var waiter in _drainWaiters) waiter.TrySetCanceled();
        foreach (var writer in _streams.Values) writer.TryComplete();
        _core.Dispose();
        _wake.Dispose();
    }

    void Loop()
    {
        while (true)
        {
            while (_commands.TryDequeue(out var command)) command();
            if (_stopping) return;
            if (_paused || !_core.HasUnfinished)
            {
                _metrics = CurrentMetrics();
                _wake.Wait();
                continue;
            }
            try
            {
                foreach (var output in _core.Step()) Publish(output);
            }
            catch (Exception e)
            {
                var failure = new EngineStepException($"an engine step failed: {e.Message}", e);
                foreach (var final in _core.AbortAll(failure))
                {
                    if (_streams.TryRemove(final.RequestId, out var writer)) writer.TryComplete(failure);
                }
            }
            if (_drainWaiters.Count > 0 && !_core.HasUnfinished)
            {
                _paused = true;
                foreach (var waiter in _drainWaiters) waiter.SetResult();
                _drainWaiters.Clear();
            }
            _metrics = CurrentMetrics();
        }
    }

    /// <summary>The core's metrics, with the requests a pause holds back counted as waiting, as the scheduler counts a request it has not started. Loop thread only.</summary>
    EngineMetrics CurrentMetrics()
    {
        var metrics = _core.Metrics();
        return _held.Count == 0 ? metrics : metrics with { Waiting = metrics.Waiting + _held.Count };
    }

    void Publish(RequestOutput output)
    {
        if (!_streams.TryGetValue(output.RequestId, out var writer)) return;
        writer.TryWrite(output);
        if (output.Finished && _streams.TryRemove(output.RequestId, out _)) writer.TryComplete();
    }

    void Enqueue(Action command)
    {
        _commands.Enqueue(command);
        _wake.Release();
    }

    /// <summary>A request a pause holds back: how to add it once the engine resumes, and how to end it if it is aborted first.</summary>
    readonly record struct HeldRequest(string RequestId, Action Add, Action Abort);

    IReadOnlyList<int> Encode(string prompt) =>
        (Tokenizer ?? throw new InvalidOperationException("this model has no tokenizer: pass token ids")).Encode(prompt, addSpecialTokens: true);
}
