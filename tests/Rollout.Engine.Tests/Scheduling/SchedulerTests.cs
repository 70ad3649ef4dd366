using Rollout.Engine.KvCache;
using Rollout.Engine.Scheduling;
using Rollout.Engine.Sequences;

namespace Rollout.Engine.Tests.Scheduling;

public class SchedulerTests
{
    static Sequence Seq(string requestId, int promptLength, int index = 0) =>
        new(requestId, index, Enumerable.Range(requestId.GetHashCode() & 0xffff, promptLength).ToArray());

    static (Scheduler Scheduler, KvCacheManager Kv) Create(int numBlocks = 64, int blockSize = 4, int maxTokens = 32,
        int maxSeqs = 8, bool chunked = true, int? threshold = null)
    {
        var kv = new KvCacheManager(numBlocks, blockSize);
        var options = new SchedulerOptions
        {
            MaxNumSequences = maxSeqs, MaxNumBatchedTokens = maxTokens, ChunkedPrefill = chunked, LongPrefillThreshold = threshold,
        };
        return (new Scheduler(options, kv), kv);
    }

    /// <summary>Runs the step as a model would: every sampling sequence gets token 1; nothing finishes.</summary>
    static SchedulerOutput Step(Scheduler scheduler, Func<Sequence, FinishReason?>? finish = null)
    {
        var output = scheduler.Schedule();
        var sampled = output.Scheduled.Where(s => s.Samples).ToDictionary(s => s.Sequence, _ => (IReadOnlyList<int>)[1]);
        scheduler.OnStepFinished(output, sampled, (seq, _) => finish?.Invoke(seq));
        return output;
    }

    [Fact]
    public void Aborting_a_waiting_request_finishes_all_its_samples()
    {
        var (scheduler, _) = Create();
        var a0 = Seq("a", 5, 0);
        var a1 = Seq("a", 5, 1);
        var b = Seq("b", 5);
        scheduler.Add(a0);
        scheduler.Add(b);
        scheduler.Add(a1);

        var aborted = scheduler.Abort("a");

        Assert.Equal([a0, a1], aborted);
        Assert.All(aborted, s => Assert.Equal(FinishReason.Abort, s.FinishReason));
        Assert.All(aborted, s => Assert.Equal(SequenceStatus.Finished, s.Status));
        Assert.Equal([b], scheduler.Waiting);
        Assert.Empty(scheduler.Abort("unknown"));
    }

    [Fact]
    public void Aborting_a_running_request_frees_its_blocks_even_mid_step()
    {
        var (scheduler, kv) = Create();
        var a = Seq("a", 9);
        var b = Seq("b", 9);
        scheduler.Add(a);
        scheduler.Add(b);
        var output = scheduler.Schedule();
        Assert.Equal(2, output.Scheduled.Count);

        scheduler.Abort("a");
        var sampled = output.Scheduled.ToDictionary(s => s.Sequence, _ => (IReadOnlyList<int>)[1]);
        scheduler.OnStepFinished(output, sampled, (_, _) => null);

        Assert.Equal(FinishReason.Abort, a.FinishReason);
        Assert.Empty(a.BlockTable);
        Assert.Empty(a.OutputTokenIds);
        Assert.Equal([b], scheduler.Running);
        Assert.Equal([1], b.OutputTokenIds);
        Assert.Equal(kv.NumBlocks - b.BlockTable.Count, kv.NumFreeBlocks);
    }

    [Fact]
    public void A_forked_sample_shares_full_blocks_copies_the_partial_tail_and_runs_at_once()
    {
        var (scheduler, kv) = Create(numBlocks: 16, blockSize: 4, maxTokens: 256);
        var parent = Seq("a", 10, 0);
        var child = Seq("a", 10, 1);
        scheduler.Add(parent);
        Step(scheduler);
        Assert.True(kv.TryFork(parent, child, 10, out var tail));
        Assert.Equal(parent.BlockTable[..2], child.BlockTable[..2]);
        Assert.Equal((parent.BlockTable[2], child.BlockTable[2]), tail);
        Assert.NotEqual(parent.BlockTable[2], child.BlockTable[2]);
        Assert.Equal(10, child.NumCachedPromptTokens);
        child.OutputTokenIds.Add(7);
        scheduler.AddForked(child, finished: null);
        Assert.Contains(child, scheduler.Running);
        var next = scheduler.Schedule();
        Assert.Contains(next.Scheduled, s => s.Sequence == child && s.NumTokens == 1 && s.Samples);
        // Shared blocks survive the parent: freeing it leaves the child's KV in place.
        scheduler.Abort("a");
        Assert.Equal(kv.NumBlocks, kv.NumFreeBlocks);
    }

    [Fact]
    public void A_fork_finished_at_birth_frees_what_it_took()
    {
        var (scheduler, kv) = Create(numBlocks: 16, blockSize: 4, maxTokens: 256);
        var parent = Seq("a", 6, 0);
        var child = Seq("a", 6, 1);
        scheduler.Add(parent);
        Step(scheduler);
        int freeBefore = kv.NumFreeBlocks;
        Assert.True(kv.TryFork(parent, child, 6, out _));
        scheduler.AddForked(child, FinishReason.Stop);
        Assert.True(child.IsFinished);
        Assert.Equal(freeBefore, kv.NumFreeBlocks);
        Assert.DoesNotContain(child, scheduler.Running);
    }

    [Fact]
    public void A_fork_needing_a_tail_block_fails_cleanly_when_none_is_free()
    {
        var (scheduler, kv) = Create(numBlocks: 2, blockSize: 4, maxTokens: 256);
        var parent = Seq("a", 6, 0);
        var child = Seq("a", 6, 1);
        scheduler.Add(parent);
        Step(scheduler);
        Assert.Equal(0, kv.NumFreeBlocks);
        Assert.False(kv.TryFork(parent, child, 6, out _));
        Assert.Empty(child.BlockTable);
        Assert.Equal(0, child.NumComputedTokens);
    }

    [Fact]
    public void A_long_prompt_is_prefilled_in_chunks_and_samples_only_at_its_end()
    {
        var (scheduler, _) = Create(maxTokens: 8);
        var seq = Seq("a", 20);
        scheduler.Add(seq);

        var chunks = Enumerable.Range(0, 3).Select(_ => Step(scheduler).Scheduled.Single()).ToList();

        Assert.Equal([8, 8, 4], chunks.Select(c => c.NumTokens));
        Assert.Equal([false, false, true], chunks.Select(c => c.Samples));
        Assert.Equal([1], seq.OutputTokenIds);
        Assert.Equal(1, Step(scheduler).Scheduled.Single().NumTokens);
    }

    [Fact]
    public void LongPrefillThreshold_caps_one_prompt_so_others_share_the_step()
    {
        var (scheduler, _) = Create(maxTokens: 16, threshold: 6);
        scheduler.Add(Seq("a", 20));
        scheduler.Add(Seq("b", 20));

        var output = scheduler.Schedule();

        Assert.Equal([6, 6], output.Scheduled.Select(s => s.NumTokens));
        Assert.Equal(12, output.TotalTokens);
    }

    [Fact]
    public void Without_chunked_prefill_a_prompt_waits_for_a_step_with_room_for_all_of_it()
    {
        var (scheduler, _) = Create(maxTokens: 10, chunked: false);
        var first = Seq("a", 4);
        var second = Seq("b", 10);
        scheduler.Add(first);
        scheduler.Add(second);

        Assert.Equal([first], Step(scheduler).Scheduled.Select(s => s.Sequence));
        Assert.Equal([first], Step(scheduler, _ => FinishReason.Stop).Scheduled.Select(s => s.Sequence));
        var output = Step(scheduler);

        Assert.Equal(new ScheduledSequence(second, 10, true), output.Scheduled.Single());
        Assert.Throws<ArgumentException>(() => scheduler.Add(Seq("c", 11)));
    }

    [Fact]
    public void The_sequence_cap_holds_admission_back()
    {
        var (scheduler, _) = Create(maxSeqs: 2);
        for (int i = 0; i < 3; i++) scheduler.Add(Seq("r", 3, i));

        var output = scheduler.Schedule();

        Assert.Equal(2, output.Scheduled.Count);
        Assert.Single(scheduler.Waiting);
    }

    [Fact]
    public void When_blocks_run_out_the_newest_is_preempted_and_queued_first()
    {
        // Three 4-token prompts fill 3 of 4 blocks; the first decode needs the fourth, the second decode preempts.
        var (scheduler, kv) = Create(numBlocks: 4, blockSize: 4);
        var seqs = new[] { Seq("a", 4), Seq("b", 4), Seq("c", 4) };
        foreach (var s in seqs) scheduler.Add(s);
        var late = Seq("d", 2);
        Step(scheduler);
        scheduler.Add(late);

        var output = scheduler.Schedule();

        Assert.Equal([seqs[2]], output.Preempted);
        Assert.Equal([seqs[0], seqs[1]], output.Scheduled.Select(s => s.Sequence));
        Assert.Equal([seqs[2], late], scheduler.Waiting);
        Assert.Equal(SequenceStatus.Waiting, seqs[2].Status);
        Assert.Equal(0, seqs[2].NumComputedTokens);
        Assert.Empty(seqs[2].BlockTable);
        Assert.Equal(1, seqs[2].NumPreemptions);
        Assert.Equal(0, kv.NumFreeBlocks);
    }

    [Fact]
    public void A_preempted_sequence_recomputes_prompt_and_output_before_sampling_again()
    {
        var (scheduler, kv) = Create(numBlocks: 2, blockSize: 4, maxTokens: 16);
        // Two samples of one prompt, so the prefix cache can help the recomputation.
        var old = Seq("a", 4, 0);
        var young = Seq("a", 4, 1);
        scheduler.Add(old);
        scheduler.Add(young);
        Step(scheduler); // both prefill into one full block each and sample: 5 tokens each
        var output = scheduler.Schedule(); // the old one's decode needs a second block: the young one goes
        Assert.Equal([young], output.Preempted);
        scheduler.OnStepFinished(output, new Dictionary<Sequence, IReadOnlyList<int>> { [old] = [2] }, (_, _) => FinishReason.Length);

        output = scheduler.Schedule();

        // The old one's prompt block is cached: only the young one's sampled token is fed again, and it samples.
        var again = output.Scheduled.Single();
        Assert.Same(young, again.Sequence);
        Assert.Equal(5, young.NumTokens);
        Assert.Equal(new ScheduledSequence(young, 1, true), again);
        Assert.Equal(4, young.NumComputedTokens);
        Assert.Equal(0, kv.NumFreeBlocks);
    }

    [Fact]
    public void Without_chunked_prefill_a_preempted_sequence_longer_than_a_step_recomputes_in_chunks()
    {
        var (scheduler, kv) = Create(numBlocks: 5, blockSize: 1, maxTokens: 2, chunked: false);
        kv.EnablePrefixCaching = false;
        var a = Seq("a", 1);
        var b = Seq("b", 1);
        scheduler.Add(a);
        scheduler.Add(b);
        Step(scheduler);
        Step(scheduler);
        // Third decode: a takes the last block, b cannot grow and preempts itself with 3 tokens.
        Assert.Equal([b], Step(scheduler, s => s == a ? FinishReason.Length : null).Preempted);

        var first = Step(scheduler).Scheduled.Single();
        var second = Step(scheduler).Scheduled.Single();

        Assert.Equal(new ScheduledSequence(b, 2, false), first);
        Assert.Equal(new ScheduledSequence(b, 1, true), second);
        Assert.Equal(4, b.NumTokens);
    }

    /// <summary>
    /// Random arrivals of random-length requests (n samples each, small vocabulary so prefixes are
    /// shared) against a pool barely big enough for the longest sequence, driven by a fake model that
    /// samples random tokens, finishes at random lengths and sometimes aborts.
    /// </summary>
    [EngineProperty]
    public void Every_request_finishes_and_every_step_respects_the_limits(SchedulerScenario s)
    {
        var rng = new Random(s.Seed);
        var kv = new KvCacheManager(s.NumBlocks, s.BlockSize);
        var options = new SchedulerOptions
        {
            MaxNumSequences = s.MaxNumSequences, MaxNumBatchedTokens = s.MaxNumBatchedTokens,
            ChunkedPrefill = s.ChunkedPrefill, LongPrefillThreshold = s.LongPrefillThreshold,
        };
        var scheduler = new Scheduler(options, kv);

        var arrivals = new List<(int Step, Sequence[] Samples)>();
        var maxOutput = new Dictionary<Sequence, int>();
        for (int r = 0; r < s.NumRequests; r++)
        {
            int[] prompt = Enumerable.Range(0, rng.Next(1, s.MaxPromptLength + 1)).Select(_ => rng.Next(3)).ToArray();
            var samples = Enumerable.Range(0, rng.Next(1, 4))
                .Select(i => new Sequence($"r{r}", i, prompt)).ToArray();
            foreach (var seq in samples) maxOutput[seq] = rng.Next(1, s.MaxOutputLength + 1);
            arrivals.Add((rng.Next(0, 20), samples));
        }
        arrivals.Sort((x, y) => x.Step.CompareTo(y.Step));
        var all = arrivals.SelectMany(a => a.Samples).ToList();
        var added = new List<Sequence>();

        int step = 0, next = 0;
        while (next < arrivals.Count || scheduler.HasUnfinished)
        {
            Assert.True(step < 20_000, "the scheduler stopped making progress");
            for (; next < arrivals.Count && arrivals[next].Step <= step; next++)
                foreach (var seq in arrivals[next].Samples)
                {
                    scheduler.Add(seq);
                    added.Add(seq);
                }
            if (rng.NextDouble() < 0.01 && added.Count > 0)
                scheduler.Abort(added[rng.Next(added.Count)].RequestId);

            var runningBefore = scheduler.Running.ToHashSet();
            var oldest = scheduler.Running.FirstOrDefault();
            var output = scheduler.Schedule();
            CheckStep(s, scheduler, kv, output, runningBefore, oldest);

            var sampled = output.Scheduled.Where(x => x.Samples).ToDictionary(x => x.Sequence, _ => (IReadOnlyList<int>)[rng.Next(3)]);
            scheduler.OnStepFinished(output, sampled, (seq, _) =>
                seq.OutputTokenIds.Count >= maxOutput[seq] ? FinishReason.Length
                : rng.NextDouble() < 0.02 ? FinishReason.Stop : null);
            CheckBlocks(scheduler, kv);
            step++;
        }

        Assert.All(all, seq =>
        {
            Assert.Equal(SequenceStatus.Finished, seq.Status);
            Assert.Empty(seq.BlockTable);
            if (seq.FinishReason == FinishReason.Length) Assert.Equal(maxOutput[seq], seq.OutputTokenIds.Count);
            else Assert.True(seq.OutputTokenIds.Count <= maxOutput[seq]);
        });
        Assert.Equal(kv.NumBlocks, kv.NumFreeBlocks);
    }

    static void CheckStep(SchedulerScenario s, Scheduler scheduler, KvCacheManager kv, SchedulerOutput output,
        HashSet<Sequence> runningBefore, Sequence? oldest)
    {
        Assert.Equal(output.Scheduled.Sum(x => x.NumTokens), output.TotalTokens);
        Assert.InRange(output.TotalTokens, 0, s.MaxNumBatchedTokens);
        Assert.InRange(output.Scheduled.Count, 0, s.MaxNumSequences);
        Assert.InRange(scheduler.Running.Count, 0, s.MaxNumSequences);
        Assert.Equal(output.Scheduled.Count, output.Scheduled.Select(x => x.Sequence).Distinct().Count());
        if (scheduler.HasUnfinished) Assert.NotEmpty(output.Scheduled);
        if (oldest is not null) Assert.Contains(oldest, output.Scheduled.Select(x => x.Sequence));

        foreach (var (seq, numTokens, samples) in output.Scheduled)
        {
            Assert.Equal(SequenceStatus.Running, seq.Status);
            Assert.InRange(numTokens, 1, seq.NumTokens - seq.NumComputedTokens);
            Assert.Equal(seq.NumComputedTokens + numTokens == seq.NumTokens, samples);
            Assert.True(seq.BlockTable.Count * s.BlockSize >= seq.NumComputedTokens + numTokens);
            if (s.ChunkedPrefill && s.LongPrefillThreshold is int threshold) Assert.True(numTokens <= threshold);
            // Without chunking a new prompt goes in whole; only recomputation after preemption may be split.
            if (!s.ChunkedPrefill && !runningBefore.Contains(seq) && seq.NumPreemptions == 0) Assert.True(samples);
        }

        foreach (var preempted in output.Preempted)
        {
            Assert.Equal(SequenceStatus.Waiting, preempted.Status);
            Assert.Empty(preempted.BlockTable);
            Assert.Equal(0, preempted.NumComputedTokens);
            Assert.DoesNotContain(preempted, output.Scheduled.Select(x => x.Sequence));
            Assert.All(scheduler.Running, r => Assert.True(r.ArrivalOrder < preempted.ArrivalOrder, "preempted one that was not the newest"));
        }
        if (output.Preempted.Count > 0) Assert.All(output.Scheduled, x => Assert.Contains(x.Sequence, runningBefore));

        Assert.Equal(scheduler.Running.OrderBy(x => x.ArrivalOrder), scheduler.Running);
        Assert.Equal(scheduler.Waiting.OrderBy(x => x.ArrivalOrder), scheduler.Waiting);
        CheckBlocks(scheduler, kv);
    }

    static void CheckBlocks(Scheduler scheduler, KvCacheManager kv)
    {
        var pool = kv.Pool;
        Assert.Equal(pool.NumBlocks, pool.NumFreeBlocks + pool.NumUsedBlocks);
        Assert.All(scheduler.Waiting, w => Assert.Empty(w.BlockTable));
        var owners = new int[pool.NumBlocks];
        foreach (var seq in scheduler.Running)
        {
            Assert.Equal(seq.BlockTable.Count, seq.BlockTable.Distinct().Count());
            foreach (int id in seq.BlockTable) owners[id]++;
        }
        for (int id = 0; id < pool.NumBlocks; id++)
        {
            Assert.Equal(owners[id], pool[id].RefCount);
            Assert.Equal(owners[id] == 0, pool[id].IsFree);
            // Only full, hashed prefix blocks are ever shared.
            if (owners[id] > 1) Assert.NotNull(pool[id].Hash);
        }
    }

    /// <summary>Prefills both sequences and samples their first token, so each decodes next.</summary>
    static void StartDecoding(Scheduler scheduler, params Sequence[] sequences)
    {
        foreach (var seq in sequences) scheduler.Add(seq);
        Step(scheduler);
        Assert.All(sequences, seq => Assert.Equal(seq.NumTokens - 1, seq.NumComputedTokens));
    }

    [Fact]
    public void Proposed_tokens_count_against_the_budget_and_are_trimmed_to_it()
    {
        var (scheduler, _) = Create(maxTokens: 8);
        var a = Seq("a", 2);
        var b = Seq("b", 2);
        var c = Seq("c", 2);
        StartDecoding(scheduler, a, b, c);
        a.SpeculativeTokenIds = [5, 6, 7, 8];
        b.SpeculativeTokenIds = [5, 6, 7, 8];
        c.SpeculativeTokenIds = [5, 6];

        var output = scheduler.Schedule();

        // a takes its token and four proposals (5 of 8), b its token and the two that still fit; c waits for the next step.
        Assert.Equal([5, 3], output.Scheduled.Select(s => s.NumTokens));
        Assert.Equal([5, 6], b.SpeculativeTokenIds);
        Assert.Equal(8, output.TotalTokens);
        Assert.All(output.Scheduled, s => Assert.True(s.Samples));
    }

    /// <summary>
    /// Speculation never preempts: with no block free, or with the last one needed by a newer sequence's next token
    /// (a 4-token prompt fills its block), the proposal is dropped and both sequences decode.
    /// </summary>
    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    public void Speculation_drops_its_proposal_rather_than_preempt(int blocks, int newerPrompt)
    {
        var (scheduler, kv) = Create(numBlocks: blocks, blockSize: 4);
        var a = Seq("a", 2);
        var b = Seq("b", newerPrompt);
        StartDecoding(scheduler, a, b);
        a.SpeculativeTokenIds = [1, 2, 3, 4];

        var output = scheduler.Schedule();

        Assert.Empty(output.Preempted);
        Assert.Empty(a.SpeculativeTokenIds);
        Assert.Equal([1, 1], output.Scheduled.Select(s => s.NumTokens));
        Assert.Equal(0, kv.NumFreeBlocks);
    }

    [Fact]
    public void A_verify_keeps_the_accepted_tokens_commits_their_KV_and_gives_back_the_rest()
    {
        var (scheduler, kv) = Create(numBlocks: 8, blockSize: 4);
        var a = Seq("a", 3);
        StartDecoding(scheduler, a);
        a.SpeculativeTokenIds = [10, 11, 12, 13, 14];
        var output = scheduler.Schedule();
        Assert.Equal(3, a.BlockTable.Count);

        // Two proposals kept, then a replacement token: three tokens appended, the KV of the fed token and the two kept.
        scheduler.OnStepFinished(output, new Dictionary<Sequence, IReadOnlyList<int>> { [a] = [10, 11, 20] }, (_, _) => null);

        Assert.Equal([1, 10, 11, 20], a.OutputTokenIds);
        Assert.Equal(6, a.NumComputedTokens);
        Assert.Equal(2, a.BlockTable.Count);
        Assert.Empty(a.SpeculativeTokenIds);
        Assert.Equal(6, kv.NumFreeBlocks);
    }

    [Fact]
    public void A_verify_that_ends_the_sequence_midway_appends_nothing_after_the_end()
    {
        var (scheduler, kv) = Create(numBlocks: 8, blockSize: 4);
        var a = Seq("a", 3);
        StartDecoding(scheduler, a);
        a.SpeculativeTokenIds = [10, 11, 12];
        var output = scheduler.Schedule();

        var finished = scheduler.OnStepFinished(output, new Dictionary<Sequence, IReadOnlyList<int>> { [a] = [10, 11, 12, 13] },
            (seq, i) => i == 1 ? FinishReason.Stop : null);

        Assert.Equal([a], finished);
        Assert.Equal([1, 10, 11], a.OutputTokenIds);
        Assert.Equal(8, kv.NumFreeBlocks);
    }
}
