using System.Diagnostics;
using Rollout.Engine.Execution;
using Rollout.Engine.KvCache;
using Rollout.Engine.Requests;
using Rollout.Engine.Sampling;
using Rollout.Engine.Scheduling;
using Rollout.Engine.Sequences;
using Rollout.Models;
using Rollout.Models.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Core;

/// <summary>
/// The synchronous heart of the engine: requests in, one <see cref="Step"/> at a time. A step
/// schedules, runs the model, samples, and applies the results; it returns the snapshots of the
/// requests it changed. Not thread-safe: <see cref="LlmEngine"/> drives it from one loop thread,
/// tests drive it directly to control exactly when requests arrive.
/// </summary>
internal sealed class EngineCore : IDisposable
{
    readonly CausalLanguageModel _model;
    readonly ITextTokenizer? _tokenizer;
    readonly IReadOnlyCollection<int> _eosTokenIds;
    readonly PagedKvTensors _kv;
    readonly KvCacheManager _kvCache;
    readonly Scheduler _scheduler;
    readonly ModelRunner _runner;
    readonly Sampler _sampler;
    readonly Dictionary<string, RequestState> _requests = [];
    readonly EngineStatistics _stats = new();

    public EngineCore(CausalLanguageModel model, ITextTokenizer? tokenizer, IReadOnlyCollection<int> eosTokenIds, EngineOptions options)
    {
        options.Validate();
        if (model.Options.Device.type == DeviceType.CPU) HostMemoryRetention.Apply();
        model.PrepareInference();
        _model = model;
        _tokenizer = tokenizer;
        _eosTokenIds = eosTokenIds;
        var dtype = model.Options.DType;
        long bytesPerBlock = PagedKvTensors.BytesPerBlock(model.Config, options.BlockSize, dtype);
        long budget = options.KvCacheBytes ?? KvCacheBudget.FromFreeMemory(model.Options.Device, options.KvCacheMemoryFraction);
        int blocks = (int)Math.Min(int.MaxValue, budget / bytesPerBlock);
        if (blocks < 1)
            throw new ArgumentOutOfRangeException(nameof(options), budget, $"a KV cache budget of {budget} bytes holds not even one block ({bytesPerBlock} bytes)");
        Capacity = new KvCacheCapacity(blocks, options.BlockSize, blocks * bytesPerBlock);
        _kv = new PagedKvTensors(model.Config, blocks, options.BlockSize, dtype, model.Options.Device);
        _kvCache = new KvCacheManager(blocks, options.BlockSize, options.PrefixCaching);
        _scheduler = new Scheduler(new SchedulerOptions
        {
            MaxNumSequences = options.MaxNumSequences,
            MaxNumBatchedTokens = options.MaxNumBatchedTokens,
            ChunkedPrefill = options.ChunkedPrefill,
        }, _kvCache);
        _runner = new ModelRunner(model, _kv, options.PagedDecodeKernel);
        _sampler = new Sampler(new Random(unchecked((int)options.Seed)));
        MaxModelLength = (int)Math.Min(model.Config.MaxPositionEmbeddings, Capacity.Tokens);
    }

    public KvCacheCapacity Capacity { get; }

    /// <summary>Longest sequence (prompt + completion) the engine runs.</summary>
    public int MaxModelLength { get; }

    public CausalLanguageModel Model => _model;

    /// <summary>The version stamped on new tokens and mixed into prefix-cache keys.</summary>
    public long WeightVersion
    {
        get => _kvCache.WeightVersion;
        set => _kvCache.WeightVersion = value;
    }

    public bool HasUnfinished => _scheduler.HasUnfinished;

    /// <summary>Checks a request and queues its completions; throws, changing nothing, when it is invalid.</summary>
    public RequestState Add(string requestId, IReadOnlyList<int> promptTokenIds, SamplingParams sampling)
    {
        if (_requests.ContainsKey(requestId)) throw new ArgumentException($"request id '{requestId}' is already in use", nameof(requestId));
        Validate(promptTokenIds, sampling);
        var request = new RequestState(requestId, promptTokenIds.ToArray(), sampling, _tokenizer, Stopwatch.GetTimestamp());
        _requests.Add(requestId, request);
        // The other completions start as forks of the first once it has prefilled their shared prompt.
        _scheduler.Add(request.Completions[0].Sequence);
        return request;
    }

    /// <summary>
    /// Throws when a request could never run: bad parameters, tokens outside the vocabulary, no room
    /// to generate. Reads only what never changes, so any thread may call it.
    /// </summary>
    public void Validate(IReadOnlyList<int> promptTokenIds, SamplingParams sampling)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        int vocab = _model.Config.VocabSize;
        sampling.Validate(vocab);
        if (promptTokenIds.Count == 0) throw new ArgumentException("the prompt needs at least one token", nameof(promptTokenIds));
        for (int i = 0; i < promptTokenIds.Count; i++)
        {
            if ((uint)promptTokenIds[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(promptTokenIds), $"prompt token {i} is {promptTokenIds[i]}, outside the vocabulary [0, {vocab})");
        }
        if (promptTokenIds.Count >= MaxModelLength)
            throw new ArgumentException($"a {promptTokenIds.Count}-token prompt leaves no room to generate within the engine's {MaxModelLength}-token context", nameof(promptTokenIds));
        if (sampling.MaxTokens is int max && promptTokenIds.Count + max > MaxModelLength)
            throw new InvalidSamplingParametersException("max_tokens",
                $"max_tokens ({max}) plus the {promptTokenIds.Count}-token prompt exceeds the engine's {MaxModelLength}-token context");
        if (sampling.Stop.Count > 0 && _tokenizer is null)
            throw new InvalidSamplingParametersException("stop", "stop strings need a tokenizer and this model has none");
    }

    /// <summary>Aborts a request: its completions end with what they have. Returns its final snapshot, or null if unknown.</summary>
    public RequestOutput? Abort(string requestId)
    {
        if (!_requests.Remove(requestId, out var request)) return null;
        _scheduler.Abort(requestId);
        foreach (var c in request.Completions) c.MarkAborted();
        return request.Snapshot();
    }

    /// <summary>Aborts every request; returns their final snapshots.</summary>
    public IReadOnlyList<RequestOutput> AbortAll() =>
        _requests.Keys.ToArray().Select(id => Abort(id)!).ToArray();

    /// <summary>Forgets every cached prefix (after weights change, say).</summary>
    public void ResetPrefixCache() => _kvCache.ResetPrefixCache();

    /// <summary>Runs one step; returns snapshots of the requests whose completions advanced or ended.</summary>
    public IReadOnlyList<RequestOutput> Step()
    {
        long start = Stopwatch.GetTimestamp();
        var scheduled = _scheduler.Schedule();
        if (scheduled.IsEmpty) return [];
        long scheduledAt = Stopwatch.GetTimestamp();
        using var scope = NewDisposeScope();

        var step = new List<StepSequence>(scheduled.Scheduled.Count);
        int promptTokens = 0;
        foreach (var (seq, numTokens, samples) in scheduled.Scheduled)
        {
            promptTokens += Math.Max(0, Math.Min(seq.NumComputedTokens + numTokens, seq.PromptTokenIds.Length) - seq.NumComputedTokens);
            var tokens = new int[numTokens];
            seq.CopyTokens(seq.NumComputedTokens, tokens);
            int rows = PromptLogprobRows(seq, numTokens) > 0 ? numTokens : samples ? 1 : 0;
            step.Add(new StepSequence(seq.ArrivalOrder, tokens, seq.NumComputedTokens, seq.BlockTable, rows));
        }
        var logits = _runner.Run(step);
        long ranAt = Stopwatch.GetTimestamp();

        var samplingRows = new List<SamplingRow>();
        var samplingIndex = new List<long>();
        // Who each sampling row draws for: a scheduled sequence, or a sibling forked from one (Parent set).
        var draws = new List<(Sequence Sequence, Sequence? Parent)>();
        long row = 0;
        for (int i = 0; i < step.Count; i++)
        {
            var (seq, numTokens, samples) = scheduled.Scheduled[i];
            int rows = step[i].LogitRows;
            if (PromptLogprobRows(seq, numTokens) is int promptRows and > 0)
                RecordPromptLogprobs(seq, logits.narrow(0, row, promptRows));
            if (samples)
            {
                var completion = (CompletionState)seq.Tag!;
                samplingIndex.Add(row + rows - 1);
                samplingRows.Add(new SamplingRow(completion.Request.Params, seq.PromptTokenIds, seq.OutputTokenIds, seq.Index, _eosTokenIds));
                draws.Add((seq, null));
                if (seq.Index == 0 && seq.OutputTokenIds.Count == 0)
                {
                    // The prompt's last row serves every completion's first draw: forks never recompute it.
                    foreach (var sibling in completion.Request.Completions.Skip(1))
                    {
                        draws.Add((sibling.Sequence, seq));
                        samplingIndex.Add(row + rows - 1);
                        samplingRows.Add(new SamplingRow(completion.Request.Params, seq.PromptTokenIds, sibling.Sequence.OutputTokenIds, sibling.Sequence.Index, _eosTokenIds));
                    }
                }
            }
            row += rows;
        }
        // Decode-only steps sample every logit row once, in order: no gather needed.
        bool everyRowInOrder = samplingIndex.Count == logits.shape[0] && samplingIndex.Select((r, i) => r == i).All(same => same);
        var chosen = samplingRows.Count == 0 ? []
            : _sampler.Sample(everyRowInOrder ? logits : logits.index_select(0, tensor(samplingIndex.ToArray(), device: logits.device)), samplingRows).Tokens;

        long sampledAt = Stopwatch.GetTimestamp();
        var tokensBySequence = new Dictionary<Sequence, int>(draws.Count);
        var scoredBySequence = new Dictionary<Sequence, ScoredToken>(draws.Count);
        long version = WeightVersion;
        for (int i = 0; i < draws.Count; i++)
        {
            var (seq, parent) = draws[i];
            if (parent is not null) continue;
            tokensBySequence[seq] = chosen[i].TokenId;
            scoredBySequence[seq] = chosen[i];
        }
        // Before the parents' results are applied: a parent that ends now frees its blocks, and its forks must own them first.
        for (int i = 0; i < draws.Count; i++)
            if (draws[i].Parent is { } parent) Fork(parent, draws[i].Sequence, chosen[i], version);
        _scheduler.OnStepFinished(scheduled, tokensBySequence,
            seq => ((CompletionState)seq.Tag!).Accept(scoredBySequence[seq], version, MaxModelLength, _eosTokenIds));

        long now = Stopwatch.GetTimestamp();
        var changed = new List<RequestState>();
        var seen = new HashSet<RequestState>();
        foreach (var (seq, _) in draws)
        {
            var request = ((CompletionState)seq.Tag!).Request;
            if (request.FirstTokenTimestamp is null)
            {
                request.FirstTokenTimestamp = now;
                _stats.RecordFirstToken(now - request.ArrivalTimestamp);
            }
            if (seen.Add(request)) changed.Add(request);
        }
        var outputs = new List<RequestOutput>(changed.Count);
        foreach (var request in changed)
        {
            outputs.Add(request.Snapshot());
            if (request.Finished) _requests.Remove(request.Id);
        }
        bool decodeOnly = promptTokens == 0 && scheduled.TotalTokens == scheduled.Scheduled.Count;
        long end = Stopwatch.GetTimestamp();
        _stats.RecordStep(promptTokens, scheduled.Scheduled.Count, decodeOnly, scheduled.Preempted.Count, draws.Count,
            new StepPhases(scheduledAt - start, ranAt - scheduledAt, sampledAt - ranAt, end - sampledAt));
        return outputs;
    }

    /// <summary>
    /// Starts a sibling completion from its parent's prompt KV with its first token already drawn; if the
    /// sequence cap or the pool has no room, it queues instead and prefills (mostly from the prefix cache).
    /// </summary>
    void Fork(Sequence parent, Sequence child, ScoredToken first, long version)
    {
        int promptLength = parent.PromptTokenIds.Length;
        if (!_scheduler.HasRoomForAnotherRunning || !_kvCache.TryFork(parent, child, promptLength, out var tailCopy))
        {
            _scheduler.Add(child);
            return;
        }
        if (tailCopy is { } copy) _kv.CopyBlock(copy.Source, copy.Destination);
        child.OutputTokenIds.Add(first.TokenId);
        var state = (CompletionState)child.Tag!;
        _scheduler.AddForked(child, state.Accept(first, version, MaxModelLength, _eosTokenIds));
    }

    public EngineMetrics Metrics() => _stats.Snapshot(_scheduler, _kvCache, WeightVersion);

    /// <summary>How many of this chunk's fed positions predict a prompt token whose logprob is still missing.</summary>
    static int PromptLogprobRows(Sequence seq, int numTokens)
    {
        var request = ((CompletionState)seq.Tag!).Request;
        if (!request.WantsPromptLogprobs || seq.Index != 0) return 0;
        int start = seq.NumComputedTokens;
        int end = Math.Min(start + numTokens, seq.PromptTokenIds.Length - 1);
        return start == request.PromptLogprobsRecorded && end > start ? end - start : 0;
    }

    static void RecordPromptLogprobs(Sequence seq, Tensor rows)
    {
        var request = ((CompletionState)seq.Tag!).Request;
        int start = seq.NumComputedTokens;
        var next = seq.PromptTokenIds.AsSpan(start + 1, (int)rows.shape[0]).ToArray();
        request.RecordPromptLogprobs(PromptLogprobs.Compute(rows, next, request.Params.PromptLogprobs ?? 0));
    }

    public void Dispose()
    {
        _kv.Dispose();
    }
}
