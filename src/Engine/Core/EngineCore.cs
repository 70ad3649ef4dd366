using System.Diagnostics;
using Rollout.Engine.Execution;
using Rollout.Engine.KvCache;
using Rollout.Engine.Requests;
using Rollout.Engine.Sampling;
using Rollout.Engine.Scheduling;
using Rollout.Engine.Sequences;
using Rollout.Engine.Speculation;
using Rollout.Models;
using Rollout.Models.Native;
using Rollout.Models.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Core;

/// <summary>
/// The synchronous heart of the engine: requests in, one <see cref="Step"/> at a time. A step
/// schedules, runs the model, samples, and applies the results; it returns the snapshots of the
/// requests it changed. Generation needs a causal LM; prefill-only requests (<see cref="PrefillRequest"/>:
/// scoring over a causal LM, rewards over a reward model) share the same steps and sample nothing. Not
/// thread-safe: <see cref="LlmEngine"/> drives it from one loop thread, tests drive it directly to control
/// exactly when requests arrive.
/// </summary>
internal sealed class EngineCore : IDisposable
{
    readonly TransformerModel _model;
    // Null for a reward model: it neither generates nor scores tokens.
    readonly CausalLanguageModel? _languageModel;
    readonly ITextTokenizer? _tokenizer;
    readonly IReadOnlyCollection<int> _eosTokenIds;
    readonly PagedKvTensors _kv;
    readonly KvCacheManager _kvCache;
    readonly Scheduler _scheduler;
    readonly ModelRunner _runner;
    readonly Sampler _sampler;
    readonly RejectionSampler _verifier;
    readonly ISpeculativeProposer? _proposer;
    readonly SpeculationController? _speculation;
    readonly SpeculativeOptions? _speculationOptions;
    readonly Dictionary<string, RequestState> _requests = [];
    readonly HashSet<PrefillRequest> _prefills = [];
    readonly EngineStatistics _stats = new();

    /// <exception cref="ArgumentException">The model is neither a causal LM nor a reward model with one label, or the options are invalid.</exception>
    public EngineCore(TransformerModel model, ITextTokenizer? tokenizer, IReadOnlyCollection<int> eosTokenIds, EngineOptions options)
    {
        options.Validate();
        if (model is not (CausalLanguageModel or SequenceClassificationModel { Config.NumLabels: 1 }))
            throw new ArgumentException($"{model.Config.Architecture} with {model.Config.NumLabels} labels is neither a causal language model nor a reward model " +
                "(a sequence-classification head with num_labels = 1): the engine serves only those", nameof(model));
        if (options.Speculation is { } speculation)
        {
            if (model is not CausalLanguageModel)
                throw new ArgumentException("speculative decoding needs a causal language model: a reward model generates nothing", nameof(options));
            speculation.Validate(model.Config.VocabSize);
        }
        ProcessPatches.ForEngine(model.Options);
        model.PrepareInference();
        _model = model;
        _languageModel = model as CausalLanguageModel;
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
        _runner = new ModelRunner(model, _kv);
        _sampler = new Sampler(new Random(unchecked((int)options.Seed)), model.Options.FastCpuKernels);
        _verifier = new RejectionSampler(_sampler);
        MaxModelLength = (int)Math.Min(Math.Min(model.Config.MaxPositionEmbeddings, Capacity.Tokens), options.MaxModelLength ?? int.MaxValue);
        if (options.Speculation is { } spec)
        {
            _speculationOptions = spec;
            _speculation = new SpeculationController(spec);
            _proposer = spec.Method == SpeculativeMethod.NGram
                ? new NGramProposer(spec.NGramMin, spec.NGramMax)
                : new DraftModelProposer(spec.DraftModel!, spec.DraftKvCacheBytes ?? Capacity.Tokens * PagedKvTensors.BytesPerBlock(spec.DraftModel!.Config, 1, spec.DraftModel.Options.DType),
                    options.BlockSize, MaxModelLength);
        }
    }

    public KvCacheCapacity Capacity { get; }

    /// <summary>Longest sequence (prompt + completion) the engine runs.</summary>
    public int MaxModelLength { get; }

    public TransformerModel Model => _model;

    /// <summary>The KV block bookkeeping: what tests compare between runs.</summary>
    internal KvCacheManager KvCache => _kvCache;

    /// <summary>
    /// The version stamped on new tokens and mixed into prefix-cache keys. Changing it sends the prefill-only
    /// requests that computed anything back to be recomputed: each answers under one version.
    /// </summary>
    public long WeightVersion
    {
        get => _kvCache.WeightVersion;
        set
        {
            if (value == _kvCache.WeightVersion) return;
            _kvCache.WeightVersion = value;
            if (_prefills.Count > 0) _scheduler.Preempt(seq => seq.PrefillOnly);
        }
    }

    public bool HasUnfinished => _scheduler.HasUnfinished;

    /// <summary>Prefill-only requests (scoring, rewards) not yet answered.</summary>
    public int PrefillRequests => _prefills.Count;

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
        RequireLanguageModel("generate");
        sampling.Validate(_model.Config.VocabSize);
        if (promptTokenIds.Count == 0) throw new ArgumentException("the prompt needs at least one token", nameof(promptTokenIds));
        CheckVocabulary(promptTokenIds, "prompt", nameof(promptTokenIds));
        if (promptTokenIds.Count >= MaxModelLength)
            throw new ArgumentException($"a {promptTokenIds.Count}-token prompt leaves no room to generate within the engine's {MaxModelLength}-token context", nameof(promptTokenIds));
        if (sampling.MaxTokens is int max && promptTokenIds.Count + max > MaxModelLength)
            throw new InvalidSamplingParametersException("max_tokens",
                $"max_tokens ({max}) plus the {promptTokenIds.Count}-token prompt exceeds the engine's {MaxModelLength}-token context");
        if (sampling.Stop.Count > 0 && _tokenizer is null)
            throw new InvalidSamplingParametersException("stop", "stop strings need a tokenizer and this model has none");
    }

    /// <summary>
    /// Throws when a completion could never be scored: the model is no causal LM, bad processing parameters,
    /// an empty prompt, tokens outside the vocabulary, or prompt and completion longer than the context.
    /// Reads only what never changes, so any thread may call it.
    /// </summary>
    public void ValidateScoring(IReadOnlyList<int> promptTokenIds, IReadOnlyList<int> completionTokenIds, LogprobsMode mode, SamplingParams? processing)
    {
        RequireLanguageModel("score tokens");
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "the logprobs mode must be raw or processed");
        processing?.Validate(_model.Config.VocabSize);
        if (promptTokenIds.Count == 0)
            throw new ArgumentException("the prompt needs at least one token: the first completion token is scored given it", nameof(promptTokenIds));
        CheckVocabulary(promptTokenIds, "prompt", nameof(promptTokenIds));
        CheckVocabulary(completionTokenIds, "completion", nameof(completionTokenIds));
        if (promptTokenIds.Count + completionTokenIds.Count > MaxModelLength)
            throw new ArgumentException($"the {promptTokenIds.Count}-token prompt and {completionTokenIds.Count}-token completion exceed the engine's {MaxModelLength}-token context", nameof(completionTokenIds));
    }

    /// <summary>Checks a completion (<see cref="ValidateScoring"/>) and makes the request that scores it; any thread.</summary>
    public ScoringRequest CreateScoring(string requestId, IReadOnlyList<int> promptTokenIds, IReadOnlyList<int> completionTokenIds,
        LogprobsMode mode, SamplingParams? processing)
    {
        ValidateScoring(promptTokenIds, completionTokenIds, mode, processing);
        int[] prompt = [.. promptTokenIds];
        int[] completion = [.. completionTokenIds];
        var scorer = new CompletionScorer(_languageModel!, prompt, completion, mode, processing ?? new SamplingParams(), _eosTokenIds);
        return new ScoringRequest(requestId, prompt, completion, scorer);
    }

    /// <summary>
    /// Throws when a sequence could never get a reward: the model is no reward model, no tokens, tokens
    /// outside the vocabulary, or more than the context. Any thread.
    /// </summary>
    public void ValidateReward(IReadOnlyList<int> tokenIds)
    {
        if (_model is not SequenceClassificationModel)
            throw new InvalidOperationException($"{_model.Config.Architecture} is not a reward model: load a sequence-classification model to compute rewards");
        if (tokenIds.Count == 0) throw new ArgumentException("the sequence needs at least one token", nameof(tokenIds));
        CheckVocabulary(tokenIds, "sequence", nameof(tokenIds));
        if (tokenIds.Count > MaxModelLength)
            throw new ArgumentException($"a {tokenIds.Count}-token sequence exceeds the engine's {MaxModelLength}-token context", nameof(tokenIds));
    }

    /// <summary>Checks a sequence (<see cref="ValidateReward"/>) and makes the request that computes its reward; any thread.</summary>
    public RewardRequest CreateReward(string requestId, IReadOnlyList<int> tokenIds)
    {
        ValidateReward(tokenIds);
        return new RewardRequest(requestId, [.. tokenIds], (SequenceClassificationModel)_model);
    }

    /// <summary>Queues a prefill-only request; throws, changing nothing, when the scheduler could never run it.</summary>
    public void Add(PrefillRequest request)
    {
        _scheduler.Add(request.Sequence);
        _prefills.Add(request);
    }

    /// <summary>Ends a prefill-only request as cancelled, freeing its KV; nothing happens to one that already ended.</summary>
    public void Cancel(PrefillRequest request, CancellationToken cancellationToken = default)
    {
        if (_prefills.Remove(request)) _scheduler.Abort(request.Sequence);
        request.Cancel(cancellationToken);
    }

    void RequireLanguageModel(string action)
    {
        if (_languageModel is null)
            throw new InvalidOperationException($"{_model.Config.Architecture} is a reward model: it cannot {action}; it computes rewards (RewardAsync)");
    }

    void CheckVocabulary(IReadOnlyList<int> tokenIds, string what, string paramName)
    {
        int vocab = _model.Config.VocabSize;
        for (int i = 0; i < tokenIds.Count; i++)
        {
            if ((uint)tokenIds[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(paramName, $"{what} token {i} is {tokenIds[i]}, outside the vocabulary [0, {vocab})");
        }
    }

    /// <summary>Aborts a request: its completions end with what they have. Returns its final snapshot, or null if unknown.</summary>
    public RequestOutput? Abort(string requestId)
    {
        if (!_requests.Remove(requestId, out var request)) return null;
        _scheduler.Abort(requestId);
        foreach (var c in request.Completions) c.MarkAborted();
        return request.Snapshot();
    }

    /// <summary>
    /// Aborts every request; returns the final snapshots of the generating ones. Prefill-only requests end
    /// with <paramref name="failure"/>, or as cancelled when it is null.
    /// </summary>
    public IReadOnlyList<RequestOutput> AbortAll(Exception? failure = null)
    {
        foreach (var prefill in _prefills)
        {
            _scheduler.Abort(prefill.Sequence);
            if (failure is null) prefill.Cancel();
            else prefill.Fail(failure);
        }
        _prefills.Clear();
        return _requests.Keys.ToArray().Select(id => Abort(id)!).ToArray();
    }

    /// <summary>Sends every running sequence back to waiting without its KV, to be recomputed; returns how many.</summary>
    public int RecomputeRunning() => _scheduler.PreemptAll();

    /// <summary>Forgets every cached prefix (after weights change, say).</summary>
    public void ResetPrefixCache() => _kvCache.ResetPrefixCache();

    /// <summary>
    /// Runs one step, phase by phase: schedule, pack the scheduled tokens, run the model, sample, apply
    /// the results. Returns snapshots of the requests whose completions advanced or ended. Weight
    /// updates are not a phase: they run between steps (<see cref="LlmEngine.RunAtStepBoundaryAsync{T}"/>),
    /// so every phase of a step sees one set of weights and one <see cref="WeightVersion"/>.
    /// </summary>
    public IReadOnlyList<RequestOutput> Step()
    {
        long start = Stopwatch.GetTimestamp();
        int running = _scheduler.Running.Count;
        Propose(running);
        var scheduled = _scheduler.Schedule();
        if (scheduled.IsEmpty) return [];
        long scheduledAt = Stopwatch.GetTimestamp();
        using var scope = NewDisposeScope();
        // The whole step, the language-model head included: the CPU kernels refuse gradient mode, and the
        // head's product would fall back to libtorch's.
        using var noGrad = no_grad();

        var batch = Pack(scheduled);
        int promptTokens = scheduled.Scheduled.Sum(s => PromptTokensFed(s.Sequence, s.NumTokens));
        bool speculative = scheduled.Scheduled.Any(s => s.Sequence.SpeculativeTokenIds.Length > 0);
        bool decodeOnly = promptTokens == 0 && scheduled.Scheduled.All(s => s.NumTokens - s.Sequence.SpeculativeTokenIds.Length == 1);
        var logits = ReadHeads(scheduled, batch, _runner.Run(batch));
        long ranAt = Stopwatch.GetTimestamp();
        var draws = Sample(scheduled, batch, logits);
        long sampledAt = Stopwatch.GetTimestamp();
        var outputs = Apply(scheduled, draws, out int generated);

        long end = Stopwatch.GetTimestamp();
        _stats.RecordStep(promptTokens, scheduled.Scheduled.Count, decodeOnly, scheduled.Preempted.Count, generated,
            new StepPhases(scheduledAt - start, ranAt - scheduledAt, sampledAt - ranAt, end - sampledAt));
        // Measured under the batch size the controller decided for, so the figure lands in the class it judges.
        if (decodeOnly) _speculation?.RecordDecodeStep(running, speculative, generated, end - start);
        return outputs;
    }

    /// <summary>
    /// Asks the proposer for the next tokens of every running sequence that decodes, when speculation is on and the
    /// controller wants it for a batch this size; the scheduler then fits what the budget and the blocks allow.
    /// </summary>
    void Propose(int batch)
    {
        if (_speculation is null) return;
        var running = _scheduler.Running;
        // A proposal the last step had no budget for is stale now.
        foreach (var seq in running) seq.SpeculativeTokenIds = [];
        if (!_speculation.ShouldSpeculate(batch)) return;
        long start = Stopwatch.GetTimestamp();
        var candidates = new List<Sequence>(running.Count);
        var room = new List<int>(running.Count);
        foreach (var seq in running)
        {
            if (seq.PrefillOnly || seq.OutputTokenIds.Count == 0 || seq.NumComputedTokens != seq.NumTokens - 1) continue;
            // The verify emits one token more than it keeps: neither may pass max_tokens or the context.
            int left = Math.Min((seq.Completion!.Request.Params.MaxTokens ?? int.MaxValue) - seq.OutputTokenIds.Count, MaxModelLength - seq.NumTokens);
            int k = Math.Min(_speculationOptions!.NumSpeculativeTokens, left - 1);
            if (k <= 0) continue;
            candidates.Add(seq);
            room.Add(k);
        }
        if (candidates.Count > 0)
        {
            var proposals = new int[candidates.Count][];
            _proposer!.Propose(candidates, [.. room], proposals);
            for (int i = 0; i < candidates.Count; i++) candidates[i].SpeculativeTokenIds = proposals[i];
        }
        _speculation.RecordProposer(Stopwatch.GetTimestamp() - start);
    }

    /// <summary>The model runner's view of the scheduled work: each sequence's new tokens, where its KV lives, which rows need logits.</summary>
    static List<StepSequence> Pack(SchedulerOutput scheduled)
    {
        var batch = new List<StepSequence>(scheduled.Scheduled.Count);
        foreach (var (seq, numTokens, samples) in scheduled.Scheduled)
        {
            var tokens = new int[numTokens];
            var proposal = seq.SpeculativeTokenIds;
            seq.CopyTokens(seq.NumComputedTokens, tokens.AsSpan(0, numTokens - proposal.Length));
            proposal.CopyTo(tokens, numTokens - proposal.Length);
            int rows = seq.Prefill is { } prefill ? prefill.RowsIn(seq.NumComputedTokens, numTokens)
                : proposal.Length > 0 ? proposal.Length + 1
                : PromptLogprobRows(seq, numTokens) > 0 ? numTokens : samples ? 1 : 0;
            batch.Add(new StepSequence(seq.ArrivalOrder, tokens, seq.NumComputedTokens, seq.BlockTable, rows));
        }
        return batch;
    }

    /// <summary>
    /// Hands each prefill-only sequence the hidden states of its rows, and returns the logits of the other
    /// sequences' rows, in order: every row of <paramref name="hidden"/> when no sequence only prefills;
    /// null when no row is left for them.
    /// </summary>
    Tensor? ReadHeads(SchedulerOutput scheduled, List<StepSequence> batch, Tensor hidden)
    {
        if (!AnyPrefillOnly(scheduled)) return _languageModel!.ComputeLogits(hidden);
        var generating = new List<long>();
        long row = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            int rows = batch[i].LogitRows;
            if (scheduled.Scheduled[i].Sequence.Prefill is { } prefill)
            {
                if (rows > 0) prefill.Read(hidden.narrow(0, row, rows), batch[i].ContextLength - rows);
            }
            else
            {
                for (int r = 0; r < rows; r++) generating.Add(row + r);
            }
            row += rows;
        }
        return generating.Count == 0 ? null : _languageModel!.ComputeLogits(hidden.index_select(0, tensor(generating.ToArray(), device: hidden.device)));
    }

    static bool AnyPrefillOnly(SchedulerOutput scheduled)
    {
        foreach (var s in scheduled.Scheduled)
            if (s.Sequence.PrefillOnly) return true;
        return false;
    }

    /// <summary>
    /// Records prompt logprobs and draws the next token of every sequence that samples, and the first
    /// token of the siblings forked from a prompt that just finished (they share its last row); verifies the
    /// proposals of speculating sequences, which draw their kept proposals and one token more, in order.
    /// <paramref name="logits"/> holds the rows of the sequences that generate, as <see cref="ReadHeads"/> left them.
    /// </summary>
    List<Draw> Sample(SchedulerOutput scheduled, List<StepSequence> batch, Tensor? logits)
    {
        var rows = new List<SamplingRow>();
        var rowIndex = new List<long>();
        var drawers = new List<(Sequence Sequence, Sequence? Parent)>();
        var verifications = new List<Verification>();
        var verifyRows = new List<long>();
        var verifiers = new List<Sequence>();
        long row = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            var (seq, numTokens, samples) = scheduled.Scheduled[i];
            if (seq.PrefillOnly) continue;
            int logitRows = batch[i].LogitRows;
            if (seq.SpeculativeTokenIds.Length > 0)
            {
                var request = seq.Completion!.Request;
                verifications.Add(new Verification(new SamplingRow(request.Params, seq.PromptTokenIds, seq.OutputTokenIds, seq.Index, _eosTokenIds), seq.SpeculativeTokenIds));
                for (int r = 0; r < logitRows; r++) verifyRows.Add(row + r);
                verifiers.Add(seq);
                row += logitRows;
                continue;
            }
            if (PromptLogprobRows(seq, numTokens) is int promptRows and > 0)
                RecordPromptLogprobs(seq, logits!.narrow(0, row, promptRows));
            if (samples)
            {
                var request = seq.Completion!.Request;
                long last = row + logitRows - 1;
                rows.Add(new SamplingRow(request.Params, seq.PromptTokenIds, seq.OutputTokenIds, seq.Index, _eosTokenIds));
                rowIndex.Add(last);
                drawers.Add((seq, null));
                if (seq.Index == 0 && seq.OutputTokenIds.Count == 0)
                {
                    foreach (var sibling in request.Completions.Skip(1))
                    {
                        rows.Add(new SamplingRow(request.Params, seq.PromptTokenIds, sibling.Sequence.OutputTokenIds, sibling.Sequence.Index, _eosTokenIds));
                        rowIndex.Add(last);
                        drawers.Add((sibling.Sequence, seq));
                    }
                }
            }
            row += logitRows;
        }
        var draws = new List<Draw>(drawers.Count);
        if (logits is null) return draws;
        if (rows.Count > 0)
        {
            // Decode-only steps sample every logit row once, in order: no gather needed.
            bool everyRowInOrder = rowIndex.Count == logits.shape[0] && rowIndex.Select((r, i) => r == i).All(same => same);
            var chosen = _sampler.Sample(everyRowInOrder ? logits : logits.index_select(0, tensor(rowIndex.ToArray(), device: logits.device)), rows).Tokens;
            for (int i = 0; i < drawers.Count; i++) draws.Add(new Draw(drawers[i].Sequence, drawers[i].Parent, chosen[i]));
        }
        if (verifications.Count > 0)
        {
            var emitted = _verifier.Verify(logits.index_select(0, tensor(verifyRows.ToArray(), device: logits.device)), verifications);
            for (int i = 0; i < verifiers.Count; i++)
            {
                _speculation!.RecordVerification(verifications[i].Proposal.Length, emitted[i].Count - 1);
                foreach (var token in emitted[i]) draws.Add(new Draw(verifiers[i], null, token));
            }
        }
        return draws;
    }

    /// <summary>
    /// Applies a step's draws under the current weight version: forks start, the fed tokens' KV is
    /// committed, each sampled token is appended and checked for an end, prefill-only requests whose last
    /// token was computed are answered; returns the snapshots of the generating requests that changed.
    /// </summary>
    IReadOnlyList<RequestOutput> Apply(SchedulerOutput scheduled, List<Draw> draws, out int generated)
    {
        long version = WeightVersion;
        var sampled = new Dictionary<Sequence, List<ScoredToken>>(draws.Count);
        var sampledIds = new Dictionary<Sequence, IReadOnlyList<int>>(draws.Count);
        foreach (var draw in draws)
        {
            if (draw.Parent is not null) continue;
            if (!sampled.TryGetValue(draw.Sequence, out var tokens))
            {
                sampled[draw.Sequence] = tokens = new List<ScoredToken>(1);
                sampledIds[draw.Sequence] = new List<int>(1);
            }
            tokens.Add(draw.Token);
            ((List<int>)sampledIds[draw.Sequence]).Add(draw.Token.TokenId);
        }
        int appended = 0;
        // Before the parents' results are applied: a parent that ends now frees its blocks, and its forks must own them first.
        foreach (var draw in draws)
        {
            if (draw.Parent is not { } parent) continue;
            Fork(parent, draw.Sequence, draw.Token, version);
            appended++;
        }
        var finished = _scheduler.OnStepFinished(scheduled, sampledIds,
            (seq, i) =>
            {
                appended++;
                return seq.Completion!.Accept(sampled[seq][i], version, MaxModelLength, _eosTokenIds);
            });
        generated = appended;
        foreach (var seq in finished)
            if (seq.Prefill is { } prefill && _prefills.Remove(prefill)) prefill.Complete(version);

        long now = Stopwatch.GetTimestamp();
        var changed = new List<RequestState>();
        var seen = new HashSet<RequestState>();
        foreach (var draw in draws)
        {
            var request = draw.Sequence.Completion!.Request;
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
        return outputs;
    }

    /// <summary>One token drawn this step: for a scheduled sequence, or for a sibling forked from one (<see cref="Parent"/> set).</summary>
    readonly record struct Draw(Sequence Sequence, Sequence? Parent, ScoredToken Token);

    static int PromptTokensFed(Sequence seq, int numTokens) =>
        Math.Max(0, Math.Min(seq.NumComputedTokens + numTokens, seq.PromptTokenIds.Length) - seq.NumComputedTokens);

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
        _scheduler.AddForked(child, child.Completion!.Accept(first, version, MaxModelLength, _eosTokenIds));
    }

    public EngineMetrics Metrics()
    {
        var metrics = _stats.Snapshot(_scheduler, _kvCache, WeightVersion);
        if (_speculation is not { } s) return metrics;
        return metrics with
        {
            SpeculativeProposedTokens = s.Proposed,
            SpeculativeAcceptedTokens = s.Accepted,
            SpeculativeVerifications = s.VerifiedSequences,
            SpeculativeSteps = s.SpeculativeSteps,
            SpeculativeProposerTime = TimeSpan.FromSeconds((double)s.ProposerTicks / Stopwatch.Frequency),
        };
    }

    /// <summary>How many of this chunk's fed positions predict a prompt token whose logprob is still missing.</summary>
    static int PromptLogprobRows(Sequence seq, int numTokens)
    {
        var request = seq.Completion!.Request;
        if (!request.WantsPromptLogprobs || seq.Index != 0) return 0;
        int start = seq.NumComputedTokens;
        int end = Math.Min(start + numTokens, seq.PromptTokenIds.Length - 1);
        return start == request.PromptLogprobsRecorded && end > start ? end - start : 0;
    }

    static void RecordPromptLogprobs(Sequence seq, Tensor rows)
    {
        var request = seq.Completion!.Request;
        int start = seq.NumComputedTokens;
        var next = seq.PromptTokenIds.AsSpan(start + 1, (int)rows.shape[0]).ToArray();
        request.RecordPromptLogprobs(PromptLogprobs.Compute(rows, next, request.Params.PromptLogprobs ?? 0));
    }

    public void Dispose()
    {
        _kv.Dispose();
        _proposer?.Dispose();
    }
}
