using Rollout.Engine.Sampling;
using TorchSharp;

namespace Rollout.Engine.Tests.Core;

/// <summary>Tests that measure the process's memory run alone: other tests' allocations would be counted too.</summary>
[CollectionDefinition(nameof(MemoryMeasurements), DisableParallelization = true)]
public sealed class MemoryMeasurements;

[Collection(nameof(MemoryMeasurements))]
public class EngineMemoryTests
{
    const string Arch = "Qwen3ForCausalLM";

    [Fact]
    public void TensorsDoNotOutliveStepsOverTenThousandRequests()
    {
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20, MaxNumSequences = 512 });
        var random = new Random(9);
        void Wave(int count, int offset)
        {
            for (int i = 0; i < count; i++)
                core.Add($"m{offset + i}", Enumerable.Range(0, random.Next(1, 8)).Select(_ => random.Next(512)).ToArray(),
                    new SamplingParams { Temperature = 1, MaxTokens = 2, IgnoreEos = true });
            RunToEnd(core);
        }
        // Warm-up: the heap and the decode mirror reach their working size; growth after that is a leak.
        for (int w = 0; w < 5; w++) Wave(500, w * 500);
        GC.Collect();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long memoryBefore = Environment.WorkingSet;
        for (int w = 5; w < 20; w++) Wave(500, w * 500);
        GC.Collect();
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(liveBefore, liveAfter);
        Assert.True(Environment.WorkingSet - memoryBefore < 64 << 20,
            $"working set grew by {(Environment.WorkingSet - memoryBefore) >> 20} MiB over 7,500 requests after 2,500 of warm-up");
        Assert.Equal(10_000 * 2, core.Metrics().GeneratedTokens);
    }

    [Theory]
    [InlineData("ngram")]
    [InlineData("draft-self")]
    public void SpeculativeStepsLeaveNoTensorsBehind(string proposer)
    {
        var speculation = Speculation.SpeculativeGreedyTests.Speculation(proposer, Arch) with { MaxBatchSize = 512 };
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20, Speculation = speculation });
        var cases = Speculation.SpeculativeGreedyTests.Cases(100, 512, seed: 4);
        void Wave(int wave)
        {
            for (int i = 0; i < cases.Length; i++)
                core.Add($"w{wave}-{i}", cases[i].Prompt, new SamplingParams { Temperature = i % 2, MaxTokens = 12, IgnoreEos = true, Logprobs = i % 3 == 0 ? 1 : null });
            RunToEnd(core);
        }
        for (int w = 0; w < 2; w++) Wave(w);
        GC.Collect();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int w = 2; w < 6; w++) Wave(w);
        GC.Collect();
        Assert.Equal(liveBefore, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(core.Metrics().SpeculativeAcceptedTokens > 0, "nothing was accepted: the speculative path was not exercised");
    }

    static void RunToEnd(Rollout.Engine.Core.EngineCore core)
    {
        while (core.HasUnfinished) core.Step();
    }
}
