using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Core;

public class EngineCoreSamplingTests
{
    const string Arch = "Qwen3ForCausalLM";

    static Dictionary<string, RequestOutput> RunToEnd(Rollout.Engine.Core.EngineCore core)
    {
        var finals = new Dictionary<string, RequestOutput>();
        while (core.HasUnfinished)
            foreach (var o in core.Step())
                if (o.Finished) finals[o.RequestId] = o;
        return finals;
    }

    [Fact]
    public void SeededSamplingIsTheSameAloneAndInAnyBatch()
    {
        var sampling = new SamplingParams { Temperature = 1.0f, TopP = 0.9f, Seed = 42, N = 3, MaxTokens = 16 };
        int[] prompt = [5, 6, 7, 8, 9, 10];

        using var alone = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20 });
        alone.Add("target", prompt, sampling);
        var expected = RunToEnd(alone)["target"];

        using var crowded = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 64 });
        var random = new Random(5);
        for (int i = 0; i < 12; i++)
            crowded.Add($"other{i}", Enumerable.Range(0, random.Next(1, 40)).Select(_ => random.Next(512)).ToArray(),
                new SamplingParams { Temperature = 0.7f, MaxTokens = random.Next(1, 30) });
        crowded.Step();
        crowded.Add("target", prompt, sampling);
        var actual = RunToEnd(crowded)["target"];

        for (int i = 0; i < 3; i++) Assert.Equal(expected.Outputs[i].TokenIds, actual.Outputs[i].TokenIds);
        Assert.NotEqual(expected.Outputs[0].TokenIds, expected.Outputs[1].TokenIds);
    }

    [Fact]
    public void SamplesOfAPromptForkFromOnePrefill()
    {
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 8 << 20 });
        var random = new Random(4);
        for (int r = 0; r < 4; r++)
            core.Add($"p{r}", Enumerable.Range(0, 100).Select(_ => random.Next(512)).ToArray(),
                new SamplingParams { N = 8, Temperature = 1, Seed = r, MaxTokens = 5, IgnoreEos = true });
        var finals = RunToEnd(core);
        var metrics = core.Metrics();
        Assert.Equal(4 * 100, metrics.PromptTokensComputed);
        Assert.Equal(7.0 / 8, metrics.PrefixCacheHitRate, 6);
        Assert.All(finals.Values, f => Assert.All(f.Outputs, o => Assert.Equal(5, o.TokenIds.Count)));
        Assert.All(finals.Values, f => Assert.Equal(7 * 100, f.CachedPromptTokens));
        Assert.Equal(0, metrics.KvCacheUsage);
    }

    [Fact]
    public void ForkedAndQueuedSamplesDrawTheSameTokens()
    {
        var sampling = new SamplingParams { N = 4, Temperature = 1, Seed = 9, MaxTokens = 6, IgnoreEos = true };
        int[] prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
        using var forking = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 8 << 20 });
        forking.Add("r", prompt, sampling);
        var forked = RunToEnd(forking)["r"];
        // With room for one sequence at a time, siblings cannot fork: they queue and prefill from the prefix cache.
        using var queuing = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 8 << 20, MaxNumSequences = 1 });
        queuing.Add("r", prompt, sampling);
        var queued = RunToEnd(queuing)["r"];
        for (int i = 0; i < 4; i++) Assert.Equal(forked.Outputs[i].TokenIds, queued.Outputs[i].TokenIds);
    }

    [Fact]
    public void LogprobsEqualLogSoftmaxOfTheReferenceLogits()
    {
        var loaded = TinyEngine.Model(Arch);
        int[] prompt = [11, 200, 13, 400, 15, 16, 170, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28];
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 7 });
        core.Add("r", prompt, new SamplingParams { Temperature = 0.8f, Seed = 3, MaxTokens = 12, Logprobs = 4, PromptLogprobs = 2 });
        var output = RunToEnd(core)["r"];
        var completion = output.Outputs[0];

        var reference = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: false)
            .AllLogits([.. prompt, .. completion.TokenIds]);
        using var scope = NewDisposeScope();
        var logprobs = tensor(reference.Cast<float>().ToArray()).view(reference.GetLength(0), -1).log_softmax(-1);
        for (int t = 0; t < completion.TokenIds.Count; t++)
        {
            float want = logprobs[prompt.Length - 1 + t, completion.TokenIds[t]].item<float>();
            Assert.True(Math.Abs(want - completion.Logprobs![t]) <= 1e-4, $"token {t}: engine {completion.Logprobs![t]} reference {want}");
            Assert.Equal(4, completion.TopLogprobs![t].Count);
            var best = logprobs[prompt.Length - 1 + t].argmax().item<long>();
            Assert.Equal(best, completion.TopLogprobs![t][0].TokenId);
        }
        Assert.Equal(prompt.Length - 1, output.PromptLogprobs!.Count);
        for (int p = 0; p < prompt.Length - 1; p++)
        {
            Assert.Equal(prompt[p + 1], output.PromptLogprobs[p].TokenId);
            float want = logprobs[p, prompt[p + 1]].item<float>();
            Assert.True(Math.Abs(want - output.PromptLogprobs[p].Logprob) <= 1e-4, $"prompt position {p}: engine {output.PromptLogprobs[p].Logprob} reference {want}");
        }
    }

    [Fact]
    public void MaxTokensEndsWithLengthAndVersionsStampEveryToken()
    {
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20 });
        core.WeightVersion = 7;
        core.Add("r", [1, 2, 3], new SamplingParams { Temperature = 0, MaxTokens = 9, IgnoreEos = true });
        var completion = RunToEnd(core)["r"].Outputs[0];
        Assert.Equal(9, completion.TokenIds.Count);
        Assert.Equal("length", completion.FinishReason);
        Assert.All(completion.WeightVersions, v => Assert.Equal(7, v));
        Assert.Equal(9, completion.WeightVersions.Count);
    }

    [Fact]
    public void StopStringsCutTheTextAndEndTheCompletion()
    {
        using var first = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20 });
        int[] prompt = [40, 41, 42, 43];
        first.Add("free", prompt, new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true });
        string text = RunToEnd(first)["free"].Outputs[0].Text;
        Assert.True(text.Length >= 12, $"need some text to cut, got '{text}'");
        string stop = text.Substring(text.Length / 2, 3);
        int cut = text.IndexOf(stop, StringComparison.Ordinal);

        using var second = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20 });
        second.Add("stopped", prompt, new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true, Stop = [stop] });
        var completion = RunToEnd(second)["stopped"].Outputs[0];
        Assert.Equal(text[..cut], completion.Text);
        Assert.Equal("stop", completion.FinishReason);
        Assert.Equal(stop, completion.StopReason);
    }

    [Fact]
    public void AbortEndsARunningRequestWithWhatItHas()
    {
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20 });
        core.Add("long", [1, 2, 3], new SamplingParams { Temperature = 0, MaxTokens = 200, IgnoreEos = true });
        core.Add("short", [4, 5], new SamplingParams { Temperature = 0, MaxTokens = 30, IgnoreEos = true });
        for (int i = 0; i < 5; i++) core.Step();
        var aborted = core.Abort("long")!;
        Assert.Equal("abort", aborted.Outputs[0].FinishReason);
        Assert.InRange(aborted.Outputs[0].TokenIds.Count, 1, 10);
        Assert.Null(core.Abort("long"));
        var finals = RunToEnd(core);
        Assert.Equal("length", finals["short"].Outputs[0].FinishReason);
        Assert.Equal(0, core.Metrics().KvCacheUsage);
    }

    [Fact]
    public void InvalidRequestsAreRefusedWithTheirReasonAndChangeNothing()
    {
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20 });
        var e1 = Assert.Throws<InvalidSamplingParametersException>(() => core.Add("a", [1], new SamplingParams { TopP = 1.5f }));
        Assert.Equal("top_p", e1.ParameterName);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => core.Add("b", [1, 9999], new SamplingParams()));
        Assert.Contains("outside the vocabulary", e2.Message);
        var e3 = Assert.Throws<InvalidSamplingParametersException>(() => core.Add("c", [1, 2], new SamplingParams { MaxTokens = 100_000 }));
        Assert.Contains("context", e3.Message);
        Assert.Throws<ArgumentException>(() => core.Add("d", [], new SamplingParams()));
        Assert.False(core.HasUnfinished);
        core.Add("ok", [1, 2], new SamplingParams { Temperature = 0, MaxTokens = 2 });
        Assert.Throws<ArgumentException>(() => core.Add("ok", [1, 2], new SamplingParams()));
        Assert.Equal(2, RunToEnd(core)["ok"].Outputs[0].TokenIds.Count);
    }
}
