using Rollout.Engine.Execution;
using Rollout.Engine.KvCache;
using Rollout.Engine.Sequences;
using Rollout.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Speculation;

/// <summary>
/// Proposes with a small draft model over its own paged KV cache: each step it feeds every sequence the tokens
/// its cache has not seen yet (the prompt at first, then what the target emitted since), then decodes k tokens
/// greedily, all sequences in one batch per draft step. Greedy keeps the proposal a deterministic function of the
/// sequence, as the rejection sampler wants. Only tokens of the sequence itself count as computed in the draft's
/// cache, and never its last one, as in the target's: a sequence proposed for again before it advanced (its
/// proposal had no room in the step) feeds its last token again. The KV of the guesses is written past that end and
/// overwritten next time.
/// </summary>
internal sealed class DraftModelProposer : ISpeculativeProposer
{
    readonly CausalLanguageModel _model;
    readonly PagedKvTensors _kv;
    readonly KvCacheManager _cache;
    readonly ModelRunner _runner;
    readonly int _maxPositions;
    // The draft's copy of each target sequence it proposed for: the target's tokens as last seen, and its blocks.
    readonly Dictionary<Sequence, Sequence> _shadows = [];
    long _nextId;

    /// <exception cref="ArgumentOutOfRangeException">The KV budget holds not even one block.</exception>
    public DraftModelProposer(CausalLanguageModel model, long kvCacheBytes, int blockSize, int maxModelLength)
    {
        var dtype = model.Options.DType;
        long bytesPerBlock = PagedKvTensors.BytesPerBlock(model.Config, blockSize, dtype);
        int blocks = (int)Math.Min(int.MaxValue, kvCacheBytes / bytesPerBlock);
        if (blocks < 1)
            throw new ArgumentOutOfRangeException(nameof(kvCacheBytes), kvCacheBytes, $"a draft KV cache of {kvCacheBytes} bytes holds not even one block ({bytesPerBlock} bytes)");
        model.PrepareInference();
        _model = model;
        _kv = new PagedKvTensors(model.Config, blocks, blockSize, dtype, model.Options.Device);
        _cache = new KvCacheManager(blocks, blockSize, enablePrefixCaching: false);
        _runner = new ModelRunner(model, _kv);
        _maxPositions = Math.Min(maxModelLength, model.Config.MaxPositionEmbeddings);
    }

    public void Propose(IReadOnlyList<Sequence> sequences, int[] maxTokens, int[][] proposals)
    {
        ForgetEnded();
        var active = new List<(int Index, Sequence Shadow, int K)>(sequences.Count);
        var inBatch = sequences.ToHashSet();
        for (int i = 0; i < sequences.Count; i++)
        {
            proposals[i] = [];
            var target = sequences[i];
            int k = Math.Min(maxTokens[i], _maxPositions - target.NumTokens);
            if (k <= 0) continue;
            var shadow = ShadowOf(target);
            // Slots for what the cache has not seen (at least the last token) plus the k - 1 guesses fed back; the k-th is never fed.
            int fed = shadow.NumTokens - shadow.NumComputedTokens + k - 1;
            if (!Allocate(shadow, fed, inBatch)) continue;
            active.Add((i, shadow, k));
        }
        if (active.Count == 0) return;

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var guesses = active.Select(a => new int[a.K]).ToArray();
        var steps = new List<StepSequence>(active.Count);
        foreach (var (_, shadow, _) in active)
        {
            var tokens = new int[shadow.NumTokens - shadow.NumComputedTokens];
            shadow.CopyTokens(shadow.NumComputedTokens, tokens);
            steps.Add(new StepSequence(shadow.ArrivalOrder, tokens, shadow.NumComputedTokens, shadow.BlockTable, 1));
        }
        var chosen = Decode(steps);
        for (int a = 0; a < active.Count; a++) guesses[a][0] = (int)chosen[a];
        for (int j = 1; j < active.Max(a => a.K); j++)
        {
            var members = Enumerable.Range(0, active.Count).Where(a => active[a].K > j).ToArray();
            // Guess j - 1 sits at position NumTokens + j - 1, right after the target's tokens and the guesses before it.
            var step = members.Select(a => new StepSequence(active[a].Shadow.ArrivalOrder, [guesses[a][j - 1]],
                active[a].Shadow.NumTokens + j - 1, active[a].Shadow.BlockTable, 1)).ToArray();
            chosen = Decode(step);
            for (int m = 0; m < members.Length; m++) guesses[members[m]][j] = (int)chosen[m];
        }
        for (int a = 0; a < active.Count; a++)
        {
            proposals[active[a].Index] = guesses[a];
            // The target's own tokens keep their KV, all but the last, which is fed again next time.
            var shadow = active[a].Shadow;
            if (shadow.NumTokens - 1 > shadow.NumComputedTokens) _cache.CommitComputed(shadow, shadow.NumTokens - 1 - shadow.NumComputedTokens);
            _cache.TruncateToComputed(shadow);
        }
    }

    long[] Decode(IReadOnlyList<StepSequence> steps)
    {
        using var scope = NewDisposeScope();
        var hidden = _runner.Run(steps);
        return _model.ComputeLogits(hidden).argmax(-1).cpu().data<long>().ToArray();
    }

    /// <summary>The draft's copy of <paramref name="target"/>, brought up to the target's tokens.</summary>
    Sequence ShadowOf(Sequence target)
    {
        if (!_shadows.TryGetValue(target, out var shadow))
        {
            shadow = new Sequence(target.RequestId, target.Index, target.PromptTokenIds) { ArrivalOrder = _nextId++ };
            _shadows[target] = shadow;
        }
        var output = target.OutputTokenIds.AsSpan();
        if (output.Length > shadow.OutputTokenIds.Count) shadow.OutputTokenIds.AddRange(output[shadow.OutputTokenIds.Count..]);
        return shadow;
    }

    /// <summary>Slots for <paramref name="tokens"/> more tokens, taking blocks from sequences outside this batch if needed.</summary>
    bool Allocate(Sequence shadow, int tokens, HashSet<Sequence> inBatch)
    {
        while (!_cache.TryAllocateSlots(shadow, tokens))
        {
            var victim = _shadows.FirstOrDefault(pair => !inBatch.Contains(pair.Key) && pair.Value.BlockTable.Count > 0);
            if (victim.Key is null) return false;
            Drop(victim.Key);
        }
        return true;
    }

    void ForgetEnded()
    {
        foreach (var target in _shadows.Keys.Where(t => t.Status != SequenceStatus.Running).ToArray()) Drop(target);
    }

    void Drop(Sequence target)
    {
        _cache.Free(_shadows[target]);
        _shadows.Remove(target);
    }

    public void Dispose() => _kv.Dispose();
}
