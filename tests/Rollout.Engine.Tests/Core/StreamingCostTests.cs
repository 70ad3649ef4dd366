using Rollout.Engine.Core;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.Models.Testing;
using Rollout.TestSupport;

namespace Rollout.Engine.Tests.Core;

/// <summary>What a step costs the engine's managed side must not grow with the length of the streams it serves.</summary>
[Collection(nameof(MemoryMeasurements))]
public class StreamingCostTests(Xunit.Abstractions.ITestOutputHelper log)
{
    const int Tokens = 8192;

    [Fact]
    public void Managed_work_per_step_of_an_8192_token_stream_does_not_grow_with_its_length()
    {
        using var model = ModelLoader.Load(TinyModels.Directory("Qwen3ForCausalLM", new TinyModelOptions { MaxPositionEmbeddings = Tokens + 64 }));
        long kvBytes = Rollout.Engine.Execution.PagedKvTensors.BytesPerBlock(model.Config, 16, TorchSharp.torch.ScalarType.Float32) * (Tokens / 16 + 8);
        using var core = new EngineCore((CausalLanguageModel)model.Model, model.Tokenizer, model.StopTokenIds, new EngineOptions { KvCacheBytes = kvBytes });
        // Logprobs with alternatives, text and a stop string that never matches: every per-token record a stream keeps.
        core.Add("long", [1, 2, 3], new SamplingParams
        {
            Temperature = 1, Seed = 5, MaxTokens = Tokens, IgnoreEos = true, Logprobs = 2, Stop = ["\u0001\u0002never"],
        });

        // Bytes allocated per step, in windows that hold no power-of-two length (where the lists double).
        var perStep = new Dictionary<int, double>();
        int step = 0;
        long windowStart = 0;
        RequestOutput? last = null;
        int streamedChars = 0;
        while (core.HasUnfinished)
        {
            if (step is 600 or 7000) windowStart = GC.GetAllocatedBytesForCurrentThread();
            foreach (var output in core.Step())
            {
                last = output;
                // What a streaming client reads each step.
                streamedChars += output.Outputs[0].NewText.Length;
                _ = output.Outputs[0].TokenIds[^1];
                _ = output.Outputs[0].Logprobs![^1];
                _ = output.Outputs[0].WeightVersions[^1];
            }
            step++;
            if (step is 1000 or 8000) perStep[step] = (GC.GetAllocatedBytesForCurrentThread() - windowStart) / (step == 1000 ? 400.0 : 1000.0);
        }

        log.WriteLine($"managed bytes a step: {perStep[1000]:F0} at ~800 tokens, {perStep[8000]:F0} at ~7,500");
        Assert.Equal(Tokens, last!.Outputs[0].TokenIds.Count);
        Assert.Equal(Tokens, last.Outputs[0].Logprobs!.Count);
        Assert.Equal(streamedChars, last.Outputs[0].Text.Length);
        Assert.True(perStep[8000] < 1.25 * perStep[1000],
            $"a step at ~7,500 tokens allocated {perStep[8000]:F0} bytes, at ~800 tokens {perStep[1000]:F0}: the per-step cost grows with the length");
    }
}
