using Rollout.Engine.KvCache;
using Rollout.Engine.Sequences;

namespace Rollout.Engine.Scheduling;

/// <summary>
/// Decides what each engine step computes, vLLM v1 style: one token budget shared by decodes and
/// prefill chunks, running sequences first in arrival order, then waiting ones FIFO while budget,
/// sequence cap and blocks last. When blocks run out the newest running sequence is preempted (its
/// KV freed, recomputed later), so the oldest always makes progress. Not thread-safe: the engine
/// loop owns it and applies adds and aborts between steps.
/// </summary>
internal sealed class Scheduler
{
    readonly SchedulerOptions _options;
    readonly KvCacheManager _kvCache;
    // Preempted sequences go back to the front, so the queue stays in arrival order.
    readonly LinkedList<Sequence> _waiting = new();
    // In arrival order: admission is FIFO and preemption takes from the tail.
    readonly List<Sequence> _running = [];
    long _nextArrival;

    public Scheduler(SchedulerOptions options, KvCacheManager kvCache)
    {
        options.Validate();
        _options = options;
        _kvCache = kvCache;
    }

    public IReadOnlyCollection<Sequence> Waiting => _waiting;

    public IReadOnlyList<Sequence> Running => _running;

    public bool HasUnfinished => _waiting.Count > 0 || _running.Count > 0;

    /// <summary>Queues a new sequence behind every other waiting one.</summary>
    public void Add(Sequence seq)
    {
        if (seq.Status != SequenceStatus.Waiting || seq.BlockTable.Count != 0 || seq.NumComputedTokens != 0)
            throw new ArgumentException($"{seq} is not a new sequence", nameof(seq));
        if (!_options.ChunkedPrefill && seq.NumTokens > _options.MaxNumBatchedTokens)
            throw new ArgumentException(
                $"a {seq.NumTokens}-token prompt never fits a {_options.MaxNumBatchedTokens}-token step without chunked prefill", nameof(seq));
        if (_kvCache.BlocksFor(seq.NumTokens) > _kvCache.NumBlocks)
            throw new ArgumentException($"a {seq.NumTokens}-token prompt does not fit the whole KV cache", nameof(seq));
        seq.ArrivalOrder = _nextArrival++;
        _waiting.AddLast(seq);
    }

    /// <summary>Whether one more sequence may run without passing the sequence cap.</summary>
    public bool HasRoomForAnotherRunning => _running.Count < _options.MaxNumSequences;

    /// <summary>
    /// Takes a sequence forked from a running one (its KV already shared, its first token sampled) straight
    /// into the running set; or, when that token already ended it, retires it and frees its blocks.
    /// </summary>
    public void AddForked(Sequence child, FinishReason? finished)
    {
        if (child.BlockTable.Count == 0 || child.NumComputedTokens == 0)
            throw new ArgumentException($"{child} holds no forked KV", nameof(child));
        child.ArrivalOrder = _nextArrival++;
        if (finished is { } reason)
        {
            Finish(child, reason);
            return;
        }
        child.Status = SequenceStatus.Running;
        _running.Add(child);
    }

    /// <summary>Finishes every unfinished sequence of the request with <see cref="FinishReason.Abort"/>; returns them.</summary>
    public IReadOnlyList<Sequence> Abort(string requestId) => Abort(seq => seq.RequestId == requestId);

    /// <summary>Finishes <paramref name="sequence"/> with <see cref="FinishReason.Abort"/> unless it already finished.</summary>
    public void Abort(Sequence sequence) => Abort(seq => seq == sequence);

    IReadOnlyList<Sequence> Abort(Predicate<Sequence> which)
    {
        var aborted = new List<Sequence>();
        for (var node = _waiting.First; node is not null;)
        {
            var next = node.Next;
            if (which(node.Value))
            {
                _waiting.Remove(node);
                aborted.Add(node.Value);
            }
            node = next;
        }
        foreach (var seq in _running)
            if (which(seq)) aborted.Add(seq);
        foreach (var seq in aborted) Finish(seq, FinishReason.Abort);
        _running.RemoveAll(seq => seq.IsFinished);
        return aborted;
    }

    /// <summary>
    /// Preempts every running sequence, oldest ending up first in the waiting queue: their KV is freed
    /// and recomputed when they are readmitted. Returns how many there were.
    /// </summary>
    public int PreemptAll() => Preempt(_ => true);

    /// <summary>Preempts the running sequences <paramref name="which"/> picks, as <see cref="PreemptAll"/> does; returns how many.</summary>
    public int Preempt(Predicate<Sequence> which)
    {
        int count = 0;
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            var seq = _running[i];
            if (!which(seq)) continue;
            _running.RemoveAt(i);
            SendBack(seq);
            count++;
        }
        return count;
    }

    /// <summary>Builds the next step's batch, allocating its KV slots and preempting where blocks run out.</summary>
    public SchedulerOutput Schedule()
    {
        var output = new SchedulerOutput();
        int budget = _options.MaxNumBatchedTokens;
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            int numNew = Math.Min(CapPrefill(seq.NumTokens - seq.NumComputedTokens), budget);
            if (TrySpeculate(seq, numNew, budget, reserve: _running.Count - i - 1))
            {
                Take(output, seq, numNew + seq.SpeculativeTokenIds.Length, ref budget);
                continue;
            }
            // Preempting itself means every newer sequence is gone already: nothing is left to schedule.
            if (!AllocateOrPreempt(seq, numNew, output)) break;
            Take(output, seq, numNew, ref budget);
        }
        // As in vLLM: admitting new work in a step that just had to preempt would only thrash.
        if (output.Preempted.Count == 0) AdmitWaiting(output, ref budget);
        output.TotalTokens = _options.MaxNumBatchedTokens - budget;
        return output;
    }

    /// <summary>
    /// Applies a step's results: sampling sequences get their new tokens (one, or for a speculative verify the
    /// accepted proposals and one more), one at a time until <paramref name="finishCheck"/> stops them; the KV of
    /// the fed tokens that are now part of the sequence is committed and the slots of rejected proposals given
    /// back; finished sequences release their blocks, as do prefill-only sequences whose last token was fed.
    /// Returns the finished ones. Sequences aborted between <see cref="Schedule"/> and this call are skipped.
    /// </summary>
    public IReadOnlyList<Sequence> OnStepFinished(
        SchedulerOutput output, IReadOnlyDictionary<Sequence, IReadOnlyList<int>> sampledTokens, Func<Sequence, int, FinishReason?> finishCheck)
    {
        var finished = new List<Sequence>();
        foreach (var (seq, numTokens, samples) in output.Scheduled)
        {
            if (seq.Status != SequenceStatus.Running) continue;
            int speculative = seq.SpeculativeTokenIds.Length;
            seq.SpeculativeTokenIds = [];
            if (!samples)
            {
                _kvCache.CommitComputed(seq, numTokens);
                continue;
            }
            if (seq.PrefillOnly)
            {
                _kvCache.CommitComputed(seq, numTokens);
                Finish(seq, FinishReason.Prefilled);
                finished.Add(seq);
                continue;
            }
            if (!sampledTokens.TryGetValue(seq, out var tokens) || tokens.Count == 0 || tokens.Count > speculative + 1)
                throw new ArgumentException($"{seq} was scheduled to sample {speculative + 1} tokens at most but has {tokens?.Count ?? 0}", nameof(sampledTokens));
            FinishReason? reason = null;
            int appended = 0;
            while (reason is null && appended < tokens.Count)
            {
                seq.OutputTokenIds.Add(tokens[appended]);
                reason = finishCheck(seq, appended++);
            }
            // Every fed token before the first one not kept has its KV where the sequence needs it; the last
            // token appended has none yet, as after any decode.
            _kvCache.CommitComputed(seq, numTokens - speculative + appended - 1);
            if (speculative > 0) _kvCache.TruncateToComputed(seq);
            if (reason is { } r)
            {
                Finish(seq, r);
                finished.Add(seq);
            }
        }
        if (finished.Count > 0) _running.RemoveAll(seq => seq.IsFinished);
        return finished;
    }

    void AdmitWaiting(SchedulerOutput output, ref int budget)
    {
        while (_waiting.First is { } node && budget > 0 && _running.Count < _options.MaxNumSequences)
        {
            var seq = node.Value;
            _kvCache.AllocateForAdmission(seq);
            int remaining = seq.NumTokens - seq.NumComputedTokens;
            int numNew = CapPrefill(remaining);
            if (numNew > budget)
            {
                // Without chunked prefill a prompt waits for a step with room for all of it; but a
                // preempted sequence longer than a whole step would wait for ever, so it is chunked.
                if (!_options.ChunkedPrefill && remaining <= _options.MaxNumBatchedTokens)
                {
                    _kvCache.UndoAdmission(seq);
                    return;
                }
                numNew = budget;
            }
            if (!_kvCache.TryAllocateSlots(seq, numNew))
            {
                _kvCache.UndoAdmission(seq);
                return;
            }
            _waiting.RemoveFirst();
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            Take(output, seq, numNew, ref budget);
        }
    }

    /// <summary>
    /// Allocates slots for a decoding sequence's next token and as many of its speculative tokens as the budget
    /// holds, trimming the rest. Speculation never preempts: its blocks must leave <paramref name="reserve"/> free
    /// (one for each running sequence after this one, whose next token may need a block); otherwise the sequence
    /// drops its proposal and is scheduled as a plain decode (false).
    /// </summary>
    bool TrySpeculate(Sequence seq, int numNew, int budget, int reserve)
    {
        if (seq.SpeculativeTokenIds.Length == 0) return false;
        int room = Math.Min(seq.SpeculativeTokenIds.Length, budget - numNew);
        int blocks = _kvCache.BlocksFor(seq.NumComputedTokens + numNew + room) - seq.BlockTable.Count;
        if (numNew != seq.NumTokens - seq.NumComputedTokens || room <= 0 || _kvCache.NumFreeBlocks - blocks < reserve
            || !_kvCache.TryAllocateSlots(seq, numNew + room))
        {
            seq.SpeculativeTokenIds = [];
            return false;
        }
        if (room < seq.SpeculativeTokenIds.Length) seq.SpeculativeTokenIds = seq.SpeculativeTokenIds[..room];
        return true;
    }

    /// <summary>Allocates slots for the sequence, preempting the newest running sequences until they fit; false if it preempted itself.</summary>
    bool AllocateOrPreempt(Sequence seq, int numNew, SchedulerOutput output)
    {
        while (!_kvCache.TryAllocateSlots(seq, numNew))
        {
            var victim = _running[^1];
            _running.RemoveAt(_running.Count - 1);
            SendBack(victim);
            output.Preempted.Add(victim);
            if (victim == seq) return false;
        }
        return true;
    }

    /// <summary>Frees the KV of a sequence just taken out of the running set and queues it, first, to be recomputed.</summary>
    void SendBack(Sequence seq)
    {
        _kvCache.Free(seq);
        seq.SpeculativeTokenIds = [];
        seq.Status = SequenceStatus.Waiting;
        seq.NumPreemptions++;
        _waiting.AddFirst(seq);
    }

    int CapPrefill(int numTokens) =>
        _options.ChunkedPrefill && _options.LongPrefillThreshold is int threshold ? Math.Min(numTokens, threshold) : numTokens;

    static void Take(SchedulerOutput output, Sequence seq, int numNew, ref int budget)
    {
        output.Scheduled.Add(new ScheduledSequence(seq, numNew, seq.NumComputedTokens + numNew == seq.NumTokens + seq.SpeculativeTokenIds.Length));
        budget -= numNew;
    }

    void Finish(Sequence seq, FinishReason reason)
    {
        seq.Status = SequenceStatus.Finished;
        seq.FinishReason = reason;
        _kvCache.Free(seq);
    }
}
