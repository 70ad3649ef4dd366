using Rollout.Engine.Tests.Sampling;
using Rollout.Models;
using Rollout.Models.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Scoring;

/// <summary>What the engine's scores and rewards must equal: one uncached forward of the whole sequence, outside any engine.</summary>
static class ScoreReference
{
    /// <summary>The raw logprob of every completion token given everything before it.</summary>
    public static float[] Logprobs(CausalLanguageModel model, int[] prompt, int[] completion) =>
        LogitsBeforeCompletion(model, prompt, completion)
            .Select((row, j) => (float)SamplerReference.LogSoftmax(row)[completion[j]])
            .ToArray();

    /// <summary>The logits of the positions that predict the completion's tokens, one row per completion token.</summary>
    public static float[][] LogitsBeforeCompletion(CausalLanguageModel model, int[] prompt, int[] completion)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = prompt.Concat(completion).Select(i => (long)i).ToArray();
        var hidden = model.Forward(new ForwardBatch(tensor(ids), arange(ids.Length, ScalarType.Int64), new UncachedAttention([ids.Length])));
        var logits = model.ComputeLogits(hidden).narrow(0, prompt.Length - 1, completion.Length);
        return Enumerable.Range(0, completion.Length).Select(j => logits[j].data<float>().ToArray()).ToArray();
    }

    /// <summary>The reward head at the last token.</summary>
    public static float Reward(SequenceClassificationModel model, int[] tokens)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tokens.Select(i => (long)i).ToArray();
        var hidden = model.Forward(new ForwardBatch(tensor(ids), arange(ids.Length, ScalarType.Int64), new UncachedAttention([ids.Length])));
        return model.ComputeScores(hidden, tensor(new long[] { ids.Length - 1 })).item<float>();
    }

    public static void Close(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double tolerance)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            if (float.IsNegativeInfinity(expected[i]))
            {
                Assert.True(float.IsNegativeInfinity(actual[i]), $"token {i}: {actual[i]}, expected -infinity");
                continue;
            }
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"token {i}: {actual[i]} vs {expected[i]} (tolerance {tolerance})");
        }
    }
}
