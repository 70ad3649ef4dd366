using Rollout.Engine.Core;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.Models.Testing;
using Rollout.TestSupport;
using TorchSharp;

namespace Rollout.Engine.Tests.Core;

/// <summary>Weights replaced between steps: every token and every cached block carries the version that computed it.</summary>
public class WeightVersionTests
{
    const string Arch = "LlamaForCausalLM";
    static readonly EngineOptions Options = new() { KvCacheBytes = 4 << 20, BlockSize = 8 };
    static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 12, IgnoreEos = true };
    static readonly int[] Prompt = [5, 17, 42, 7, 99];

    static LoadedModel Load(long seed) => ModelLoader.Load(TinyModels.Directory(Arch, new TinyModelOptions { Seed = seed }));

    static EngineCore Core(LoadedModel model) => new((CausalLanguageModel)model.Model, model.Tokenizer, model.StopTokenIds, Options);

    static RequestOutput RunToEnd(EngineCore core, string id)
    {
        RequestOutput? final = null;
        while (core.HasUnfinished)
            foreach (var output in core.Step())
                if (output.RequestId == id && output.Finished) final = output;
        return final ?? throw new InvalidOperationException($"{id} never finished");
    }

    static int[] GreedyTokens(LoadedModel model, int[] prompt)
    {
        using var core = Core(model);
        core.Add("fresh", prompt, Greedy);
        return RunToEnd(core, "fresh").Outputs[0].TokenIds.ToArray();
    }

    [Fact]
    public void A_block_filled_across_a_weight_change_is_not_served_to_later_requests()
    {
        using var a = Load(seed: 1234);
        using var b = Load(seed: 4321);
        using var core = Core(a);

        core.Add("old", Prompt, Greedy);
        // Prefill, then one decode: block 0 (rows 0-7) holds 6 rows computed by A's weights.
        core.Step();
        core.Step();
        using (torch.no_grad())
        {
            var source = b.Model.Parameters();
            foreach (var (name, parameter) in a.Model.Parameters()) parameter.copy_(source[name]);
        }
        core.WeightVersion = 1;
        var old = RunToEnd(core, "old");
        Assert.Equal([0L, 0L], old.Outputs[0].WeightVersions.Take(2));
        Assert.All(old.Outputs[0].WeightVersions.Skip(2), v => Assert.Equal(1L, v));

        // Prompt + 4 generated tokens: 9 tokens, so block 0 is looked up in the prefix cache.
        int[] next = [.. Prompt, .. old.Outputs[0].TokenIds.Take(4)];
        int[] expected = GreedyTokens(b, next);
        using (var original = Load(seed: 1234))
            Assert.NotEqual(expected, GreedyTokens(original, next));

        core.Add("new", next, Greedy);
        var fresh = RunToEnd(core, "new");
        Assert.Equal(0, fresh.CachedPromptTokens);
        Assert.Equal(expected, fresh.Outputs[0].TokenIds);
    }

    [Fact]
    public void Blocks_computed_wholly_under_the_new_version_are_still_shared()
    {
        using var a = Load(seed: 1234);
        using var core = Core(a);
        int[] prompt = [.. Enumerable.Range(1, 20)];
        core.WeightVersion = 3;
        core.Add("first", prompt, Greedy);
        var first = RunToEnd(core, "first");
        core.Add("second", prompt, Greedy);
        var second = RunToEnd(core, "second");
        Assert.Equal(16, second.CachedPromptTokens);
        Assert.Equal(first.Outputs[0].TokenIds, second.Outputs[0].TokenIds);
        Assert.All(second.Outputs[0].WeightVersions, v => Assert.Equal(3L, v));
    }
}
