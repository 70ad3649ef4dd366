using Rollout.Engine.Sampling;
using static TorchSharp.torch;

namespace Rollout.Engine.Tests.Sampling;

public class PromptLogprobsTests
{
    [Fact]
    public void EachNextTokenGetsItsRawLogprobAndTheBestAlternatives()
    {
        const int vocab = 40, positions = 5;
        var random = new Random(8);
        var logits = Enumerable.Range(0, positions).Select(_ => Enumerable.Range(0, vocab).Select(_ => (float)random.NextDouble() * 6 - 3).ToArray()).ToArray();
        int[] next = [3, 17, 0, 39, 17];
        using var input = tensor(logits.SelectMany(r => r).ToArray(), positions, vocab);

        var scored = PromptLogprobs.Compute(input, next, 3);

        Assert.Equal(next, scored.Select(s => s.TokenId));
        for (int i = 0; i < positions; i++)
        {
            var expected = SamplerReference.LogSoftmax(logits[i]);
            Assert.Equal(expected[next[i]], scored[i].Logprob!.Value, 1e-5);
            Assert.Equal(expected.Select((lp, id) => (lp, id)).OrderByDescending(t => t.lp).Take(3).Select(t => t.id), scored[i].TopLogprobs.Select(t => t.TokenId));
            foreach (var alternative in scored[i].TopLogprobs) Assert.Equal(expected[alternative.TokenId], alternative.Logprob, 1e-5);
        }
    }

    [Fact]
    public void ZeroAlternativesGivesOnlyTheActualToken()
    {
        using var input = tensor(new float[] { 0, 0, 0, 0 }, 1, 4);
        var scored = PromptLogprobs.Compute(input, [2], 0);
        Assert.Equal(-Math.Log(4), scored[0].Logprob!.Value, 1e-6);
        Assert.Empty(scored[0].TopLogprobs);
    }
}
