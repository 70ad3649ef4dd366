using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.Models.Testing;
using Rollout.TestSupport;
using TorchSharp;

namespace Rollout.Tests.WeightSync;

/// <summary>Two weight sets of one tiny model whose greedy outputs differ, and engines over them.</summary>
internal static class WeightSets
{
    public const string Arch = "LlamaForCausalLM";
    public static readonly int[] Prompt = [5, 17, 42, 7, 99, 3, 250];
    public static readonly SamplingParams GreedyTwelve = new() { Temperature = 0, MaxTokens = 12, IgnoreEos = true };

    /// <summary>A fresh copy of the weights with <paramref name="seed"/>.</summary>
    public static LoadedModel Load(long seed) => ModelLoader.Load(TinyModels.Directory(Arch, new TinyModelOptions { Seed = seed }));

    public static LlmEngine Engine(LoadedModel model) => LlmEngine.Create(model, new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8 });

    /// <summary>Greedy tokens of a fresh engine over <paramref name="model"/>.</summary>
    public static int[] GreedyOf(LoadedModel model, IReadOnlyList<int> prompt, SamplingParams? sampling = null)
    {
        using var engine = Engine(model);
        return Greedy(engine, prompt, sampling);
    }

    public static int[] Greedy(LlmEngine engine, IReadOnlyList<int> prompt, SamplingParams? sampling = null) =>
        engine.AddRequest(prompt, sampling ?? GreedyTwelve).CompletionAsync().GetAwaiter().GetResult().Outputs[0].TokenIds.ToArray();

    /// <summary>The HF-named tensors of <paramref name="model"/>, detached copies a trainer would send.</summary>
    public static Dictionary<string, torch.Tensor> Tensors(LoadedModel model, torch.ScalarType? dtype = null) =>
        model.Model.CheckpointTensors().ToDictionary(t => t.Key, t => t.Value.detach().clone().to(dtype ?? t.Value.dtype));
}

/// <summary>An engine serving weights A (seed 1234), its receiver, and weights B (seed 4321) to push into it.</summary>
internal sealed class UpdateScenario : IDisposable
{
    public UpdateScenario()
    {
        A = WeightSets.Load(seed: 1234);
        B = WeightSets.Load(seed: 4321);
        Engine = WeightSets.Engine(A);
        Receiver = new Rollout.WeightSync.Receiver.WeightReceiver(Engine);
    }

    public LoadedModel A { get; }
    public LoadedModel B { get; }
    public LlmEngine Engine { get; }
    public Rollout.WeightSync.Receiver.WeightReceiver Receiver { get; }

    /// <summary>The engine's greedy tokens for <see cref="WeightSets.Prompt"/> now.</summary>
    public int[] Greedy() => WeightSets.Greedy(Engine, WeightSets.Prompt);

    public void Dispose()
    {
        Engine.Dispose();
        A.Dispose();
        B.Dispose();
    }
}
