using FsCheck;
using FsCheck.Fluent;

namespace Rollout.Engine.Tests;

public enum PoolOpKind { AllocateNew, AllocateMore, FreeOwner, Cache, Lookup, Reset }

/// <summary>One step of a block-pool run; <c>Owner</c>, <c>Block</c> and <c>Key</c> are taken modulo what exists.</summary>
public readonly record struct PoolOp(PoolOpKind Kind, int Owner, int Block, int Key);

public sealed record PoolScenario(int NumBlocks, PoolOp[] Ops)
{
    public override string ToString() => $"{NumBlocks} blocks: {string.Join(", ", Ops)}";
}

/// <summary>A prompt length and block size, boundaries (one token, exact multiples) included.</summary>
public sealed record PrefillCase(int Length, int BlockSize);

/// <summary>
/// A workload for the scheduler: limits, a KV pool just big enough for the longest sequence (so
/// preemption happens), and a seed that drives arrivals, lengths, sampled tokens and aborts.
/// </summary>
public sealed record SchedulerScenario(
    int Seed, int BlockSize, int NumBlocks, int MaxNumSequences, int MaxNumBatchedTokens,
    bool ChunkedPrefill, int? LongPrefillThreshold, int NumRequests, int MaxPromptLength, int MaxOutputLength);

public static class EngineArbitraries
{
    public static Arbitrary<PoolScenario> PoolScenarios()
    {
        var op =
            from kind in Gen.Frequency(
                (4, Gen.Constant(PoolOpKind.AllocateNew)), (3, Gen.Constant(PoolOpKind.AllocateMore)),
                (3, Gen.Constant(PoolOpKind.FreeOwner)), (4, Gen.Constant(PoolOpKind.Cache)),
                (4, Gen.Constant(PoolOpKind.Lookup)), (1, Gen.Constant(PoolOpKind.Reset)))
            from owner in Gen.Choose(0, 7)
            from block in Gen.Choose(0, 7)
            // Few keys, so duplicates (two blocks with one hash) and revivals are common.
            from key in Gen.Choose(0, 5)
            select new PoolOp(kind, owner, block, key);
        var scenario =
            from numBlocks in Gen.Elements(1, 2, 3, 5, 8)
            from length in Gen.Choose(0, 60)
            from ops in Gen.ArrayOf(op, length)
            select new PoolScenario(numBlocks, ops);
        return Arb.From(scenario, s => Enumerable.Range(0, s.Ops.Length)
            .Select(i => s with { Ops = [.. s.Ops[..i], .. s.Ops[(i + 1)..]] }));
    }

    public static Arbitrary<PrefillCase> PrefillCases() =>
        (from length in Gen.Frequency((3, Gen.Choose(1, 70)), (1, Gen.Elements(1, 16, 32, 64)))
         from blockSize in Gen.Elements(1, 2, 4, 16)
         select new PrefillCase(length, blockSize)).ToArbitrary();

    public static Arbitrary<SchedulerScenario> SchedulerScenarios()
    {
        var scenario =
            from seed in Gen.Choose(0, int.MaxValue - 1)
            from blockSize in Gen.Elements(1, 2, 4, 8)
            from chunked in Gen.Elements(true, false)
            from maxTokens in Gen.Elements(1, 3, 8, 16, 48)
            from maxSeqs in Gen.Elements(1, 2, 4, 8)
            from threshold in Gen.Elements<int?>(null, null, 1, 5)
            from requests in Gen.Choose(1, 16)
            from maxPrompt in Gen.Elements(1, 5, 17, 40)
            from maxOutput in Gen.Elements(1, 4, 20, 40)
            let prompt = chunked ? maxPrompt : Math.Min(maxPrompt, maxTokens)
            let longest = (prompt + maxOutput + blockSize - 1) / blockSize
            from spare in Gen.Elements(0, 0, 1, 3, 10)
            select new SchedulerScenario(seed, blockSize, longest + spare, maxSeqs, maxTokens, chunked, threshold, requests, prompt, maxOutput);
        return scenario.ToArbitrary();
    }
}
