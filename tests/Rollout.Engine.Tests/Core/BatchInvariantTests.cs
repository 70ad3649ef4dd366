using Rollout.Engine.Core;
using Rollout.Engine.Sampling;
using Rollout.Engine.Tests.Speculation;
using Rollout.Models;
using Rollout.Models.Attention;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Core;

/// <summary>
/// In the batch-invariant mode (<see cref="CpuKernels.BatchInvariant"/>) the logprob the engine reports for every
/// sampled token equals, bit for bit, the trainer's recomputation: a forward with gradients over the whole
/// sequences through the same modules, packed all together or one by one. The engine's batches mix decodes,
/// chunked prefills, forks, prefix-cache hits and (in one case) speculative verifies.
/// </summary>
public class BatchInvariantTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("Qwen3ForCausalLM", false)]
    [InlineData("MistralForCausalLM", false)]
    [InlineData("Qwen3ForCausalLM", true)]
    public void EngineLogprobsEqualTheTrainersBitForBit(string architecture, bool speculate)
    {
        var model = (CausalLanguageModel)TinyEngine.Model(architecture, CpuKernels.BatchInvariant).Model;
        var cases = SpeculativeGreedyTests.Cases(40, model.Config.VocabSize, seed: 13);
        var options = new EngineOptions
        {
            KvCacheBytes = 4 << 20, MaxNumBatchedTokens = 48,
            Speculation = speculate ? new SpeculativeOptions { NGramMin = 1, Adaptive = false, MaxBatchSize = 256 } : null,
        };
        using var core = TinyEngine.Core(architecture, options, CpuKernels.BatchInvariant);
        // Random tiny models loop under greedy decoding, which prompt lookup then predicts.
        var sampling = new SamplingParams { Temperature = speculate ? 0 : 1, Seed = 5, N = 2, Logprobs = 0, IgnoreEos = true };
        var outputs = SpeculativeGreedyTests.RunAll(core, cases, sampling, arrivalSeed: 8);
        var sequences = new List<(int[] Prompt, int[] Completion, float[] Logprobs)>();
        for (int i = 0; i < cases.Length; i++)
            foreach (var completion in outputs[i].Outputs)
                sequences.Add((cases[i].Prompt, [.. completion.TokenIds], [.. completion.Logprobs!]));
        if (speculate) Assert.True(core.Metrics().SpeculativeAcceptedTokens > 0, "no proposal was kept: verify rows went untested");

        var packed = TrainerLogprobs(model, sequences);
        var alone = sequences.SelectMany(s => TrainerLogprobs(model, [s])).ToArray();
        var engine = sequences.SelectMany(s => s.Logprobs).ToArray();
        int differ = engine.Zip(packed).Count(p => p.First != p.Second);
        log.WriteLine($"{architecture}{(speculate ? " with speculation" : "")}: {engine.Length} tokens, {differ} differ from the packed recomputation, " +
            $"max |diff| {engine.Zip(packed).Max(p => Math.Abs(p.First - p.Second)):E2}");
        Assert.Equal(engine, packed);
        Assert.Equal(engine, alone);
    }

    /// <summary>The logprob of every completion token, from one forward with gradients over the sequences packed in order.</summary>
    static float[] TrainerLogprobs(CausalLanguageModel model, IReadOnlyList<(int[] Prompt, int[] Completion, float[] Logprobs)> sequences)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var ids = new List<long>();
        var positions = new List<long>();
        var rows = new List<long>();
        var targets = new List<long>();
        foreach (var (prompt, completion, _) in sequences)
        {
            int[] tokens = [.. prompt, .. completion];
            int start = ids.Count;
            for (int t = 0; t < tokens.Length; t++)
            {
                ids.Add(tokens[t]);
                positions.Add(t);
            }
            for (int t = 0; t < completion.Length; t++)
            {
                rows.Add(start + prompt.Length - 1 + t);
                targets.Add(completion[t]);
            }
        }
        var hidden = model.Forward(new ForwardBatch(tensor(ids.ToArray()), tensor(positions.ToArray()),
            new UncachedAttention(sequences.Select(s => s.Prompt.Length + s.Completion.Length).ToArray())));
        var logits = model.ComputeLogits(hidden, tensor(rows.ToArray()));
        Assert.True(logits.requires_grad, "the trainer's forward must record for autograd");
        var logprobs = logits.log_softmax(-1).gather(1, tensor(targets.ToArray()).unsqueeze(1)).squeeze(1);
        return logprobs.detach().data<float>().ToArray();
    }
}
