using Rollout.Client;
using Rollout.Engine.Sampling;
using Rollout.Tests.Server;

namespace Rollout.Tests.Client;

/// <summary>
/// A client over an engine in this process and a client over two <c>rollout serve</c> engines give the
/// same trajectories for the same seeds: each group is one request with n on either side, and every
/// sampling field crosses the wire.
/// </summary>
[Collection(RemoteEnginesCollection.Name)]
public sealed class LocalRemoteParityTests(RemoteEnginesFixture engines)
{
    static readonly IReadOnlyList<int>[] Prompts = [[17, 300, 42, 5, 99, 123], [256, 3, 8], [1, 2, 3, 4, 5], [400, 9], [77, 78, 79]];

    // Every field that changes a draw, set away from its default, and the sampling support asked for.
    static readonly SamplingParams Sampling = new()
    {
        Temperature = 0.8f, TopK = 200, TopP = 0.95f, MinP = 0.01f, RepetitionPenalty = 1.1f, PresencePenalty = 0.3f, FrequencyPenalty = 0.2f,
        LogitBias = new Dictionary<int, float> { [5] = 2.5f, [300] = -1f }, Seed = 11, MaxTokens = 14, MinTokens = 2, StopTokenIds = [33],
        LogprobsMode = LogprobsMode.Processed, ReturnSupport = SamplingSupport.Ids,
    };

    [Fact]
    public async Task Local_and_two_remote_engines_give_the_same_trajectories()
    {
        await using var local = new LocalRolloutClient(engines.Local);
        await using var remote = engines.Remote();
        double[] tokensBefore = await Task.WhenAll(Enumerable.Range(0, 2).Select(GeneratedTokensAsync));

        var expected = await local.GenerateAsync(Prompts, n: 3, Sampling);
        var actual = await remote.GenerateAsync(Prompts, n: 3, Sampling);

        double[] tokensAfter = await Task.WhenAll(Enumerable.Range(0, 2).Select(GeneratedTokensAsync));
        Assert.All(tokensAfter.Zip(tokensBefore), t => Assert.True(t.First > t.Second, "an engine got no group"));
        AssertSame(expected, actual);
        Assert.Contains(expected.SelectMany(g => g.Trajectories), t => t.CompletionTokenIds.Distinct().Count() > 1);
        Assert.All(expected.SelectMany(g => g.Trajectories), t =>
        {
            Assert.Equal(t.CompletionTokenIds.Count, t.SupportIds!.Count);
            Assert.Equal(t.SupportIds.Select(ids => ids.Count), t.SupportSizes!);
        });
    }

    [Fact]
    public async Task Streams_give_every_group_once_and_the_same_groups_as_a_whole_call()
    {
        await using var local = new LocalRolloutClient(engines.Local);
        await using var remote = engines.Remote();
        var whole = await local.GenerateAsync(Prompts, n: 2, Sampling);

        foreach (IRolloutClient client in new IRolloutClient[] { local, remote })
        {
            var streamed = new List<TrajectoryGroup>();
            await foreach (var group in client.StreamAsync(Prompts, n: 2, Sampling)) streamed.Add(group);

            Assert.Equal(Enumerable.Range(0, Prompts.Length), streamed.Select(g => g.PromptIndex).Order());
            AssertSame(whole, [.. streamed.OrderBy(g => g.PromptIndex)]);
        }
    }

    async Task<double> GeneratedTokensAsync(int server) => (await engines.Admin(server).MetricsAsync()).Value("rollout_generation_tokens_total");

    internal static void AssertSame(IReadOnlyList<TrajectoryGroup> expected, IReadOnlyList<TrajectoryGroup> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.PromptIndex, a.PromptIndex);
            Assert.Equal(e.PromptTokenIds, a.PromptTokenIds);
            Assert.Equal(e.Trajectories.Count, a.Trajectories.Count);
            foreach (var (et, at) in e.Trajectories.Zip(a.Trajectories))
            {
                Assert.Equal(et.Index, at.Index);
                Assert.Equal(et.CompletionTokenIds, at.CompletionTokenIds);
                Assert.Equal(et.WeightVersions, at.WeightVersions);
                Assert.Equal(et.FinishReason, at.FinishReason);
                Assert.Equal(et.Text, at.Text);
                Assert.Equal(et.CompletionTokenIds.Count, at.Logprobs.Count);
                // Batches of other shapes may round differently in the last bits; the tokens above are exact.
                foreach (var (el, al) in et.Logprobs.Zip(at.Logprobs)) Assert.Equal(el, al, 1e-4f);
                Assert.Equal(et.SupportSizes, at.SupportSizes);
                Assert.Equal(et.SupportIds, at.SupportIds);
            }
        }
    }
}
