using Rollout.Engine.Sampling;

namespace Rollout.Engine.Tests.Core;

/// <summary>The threaded, async face of the engine: streams, many producers, abort, pause, the step-boundary hook.</summary>
public class LlmEngineTests
{
    static LlmEngine Engine(EngineOptions? options = null)
    {
        var model = TinyEngine.Model("LlamaForCausalLM");
        return LlmEngine.Create(model, options ?? new EngineOptions { KvCacheBytes = 8 << 20 });
    }

    [Fact]
    public async Task StreamsGrowingSnapshotsAndEndsFinished()
    {
        using var engine = Engine();
        var snapshots = new List<RequestOutput>();
        await foreach (var o in engine.GenerateAsync([1, 2, 3, 4], new SamplingParams { Temperature = 0, MaxTokens = 6, IgnoreEos = true }))
            snapshots.Add(o);
        Assert.True(snapshots.Count >= 2);
        Assert.True(snapshots[^1].Finished);
        Assert.Equal(6, snapshots[^1].Outputs[0].TokenIds.Count);
        Assert.Equal(string.Concat(snapshots.Select(s => s.Outputs[0].NewText)), snapshots[^1].Outputs[0].Text);
        for (int i = 1; i < snapshots.Count; i++)
            Assert.True(snapshots[i].Outputs[0].TokenIds.Count >= snapshots[i - 1].Outputs[0].TokenIds.Count);
    }

    [Fact]
    public async Task ManyProducersAllFinishAndMatchTheOfflineBatch()
    {
        using var engine = Engine();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true };
        var prompts = Enumerable.Range(0, 32).Select(i => (IReadOnlyList<int>)new[] { 1 + i, 2 * i + 3, 7 }).ToArray();
        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => engine.AddRequest(p, sampling).CompletionAsync())));
        var offline = engine.Generate(prompts, sampling);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(offline[i].Outputs[0].TokenIds, concurrent[i].Outputs[0].TokenIds);
    }

    [Fact]
    public async Task AbortEndsTheStreamWithAbortAndTheEngineGoesOn()
    {
        using var engine = Engine();
        var request = engine.AddRequest([1, 2, 3], new SamplingParams { Temperature = 0, MaxTokens = 400, IgnoreEos = true });
        RequestOutput? last = null;
        await foreach (var o in request.Outputs)
        {
            if (last is null) Assert.True(engine.Abort(request.RequestId));
            last = o;
        }
        Assert.Equal("abort", last!.Outputs[0].FinishReason);
        Assert.True(last.Outputs[0].TokenIds.Count < 400);
        Assert.False(engine.Abort(request.RequestId));
        var after = await engine.AddRequest([5, 6], new SamplingParams { Temperature = 0, MaxTokens = 2 }).CompletionAsync();
        Assert.True(after.Finished);
    }

    [Fact]
    public async Task CancellingTheStreamAbortsTheRequest()
    {
        using var engine = Engine();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in engine.GenerateAsync([1, 2], new SamplingParams { MaxTokens = 400, IgnoreEos = true }, "c", cts.Token))
                if (++seen == 2) cts.Cancel();
        });
        await engine.RunAtStepBoundaryAsync(_ => 0);
        await engine.RunAtStepBoundaryAsync(_ => 0);
        Assert.Equal(0, engine.Metrics.Running + engine.Metrics.Waiting);
    }

    [Fact]
    public async Task PausedEngineTakesRequestsButRunsNoStepUntilResumed()
    {
        using var engine = Engine();
        await engine.PauseAsync();
        long steps = engine.Metrics.Steps;
        var request = engine.AddRequest([9, 8, 7], new SamplingParams { Temperature = 0, MaxTokens = 3 });
        long stepsWhilePaused = await engine.RunAtStepBoundaryAsync(b => b.WeightVersion);
        Assert.Equal(0, stepsWhilePaused);
        Assert.Equal(steps, engine.Metrics.Steps);
        Assert.Equal(1, engine.Metrics.Waiting);
        engine.Resume();
        var output = await request.CompletionAsync();
        Assert.True(output.Finished);
    }

    [Fact]
    public async Task StepBoundaryChangesTheVersionStampedOnLaterTokens()
    {
        using var engine = Engine();
        await engine.RunAtStepBoundaryAsync(b => b.WeightVersion = 3);
        var first = await engine.AddRequest([1, 2], new SamplingParams { Temperature = 0, MaxTokens = 2 }).CompletionAsync();
        Assert.All(first.Outputs[0].WeightVersions, v => Assert.Equal(3, v));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.RunAtStepBoundaryAsync<int>(_ => throw new InvalidOperationException("boom")));
        Assert.Equal("boom", error.Message);
        var second = await engine.AddRequest([1, 2], new SamplingParams { Temperature = 0, MaxTokens = 2 }).CompletionAsync();
        Assert.True(second.Finished);
    }

    [Fact]
    public void BadInputThrowsAtAddRequest()
    {
        using var engine = Engine();
        var e = Assert.Throws<InvalidSamplingParametersException>(() => engine.AddRequest([1], new SamplingParams { Temperature = -1 }));
        Assert.Equal("temperature", e.ParameterName);
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.AddRequest([-1], new SamplingParams()));
        // Long enough that the first "dup" is still running when the second arrives: a one-token request
        // could finish on the engine's thread first.
        engine.AddRequest([1], new SamplingParams { MaxTokens = 32, IgnoreEos = true }, "dup");
        Assert.Throws<ArgumentException>(() => engine.AddRequest([1], new SamplingParams(), "dup"));
    }

    [Fact]
    public async Task TextPromptsUseTheModelTokenizer()
    {
        using var engine = Engine();
        RequestOutput? last = null;
        await foreach (var o in engine.GenerateAsync("Once upon a time", new SamplingParams { Temperature = 0, MaxTokens = 5, IgnoreEos = true })) last = o;
        Assert.Equal(engine.Tokenizer!.Encode("Once upon a time"), last!.PromptTokenIds);
        Assert.Equal(5, last.Outputs[0].TokenIds.Count);
    }
}
