using System.Text.Json;
using Rollout.Engine;
using Rollout.Models.Loading;
using Rollout.Server;
using Rollout.Server.Rl;

namespace Rollout.Tests.Server;

/// <summary>
/// A server that speculates answers <c>/rl/generate</c> with the tokens, logprobs and versions a plain one does
/// (greedy), and its <c>/metrics</c> count the proposals and what was kept.
/// </summary>
public class SpeculativeServerTests
{
    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    static async Task<(RlGenerateResponse Answer, PrometheusText Metrics)> Generate(SpeculativeOptions? speculation)
    {
        await using var server = await RolloutServer.StartAsync(ModelLoader.Load(ServerFixture.ModelDirectory),
            new EngineOptions { KvCacheBytes = 8 << 20, Speculation = speculation }, new ServerOptions { Port = 0 }, configureLogging: _ => { });
        using var client = ServerFixture.Client(server, null);
        var body = await client.PostOkAsync("/rl/generate", new
        {
            prompts = new[] { new[] { 17, 300, 42, 5, 17, 300, 42, 5, 17, 300 }, new[] { 256, 3, 8, 256, 3 } },
            sampling = new { temperature = 0.0, max_tokens = 40, ignore_eos = true, logprobs = 1 },
        });
        return (body.Deserialize<RlGenerateResponse>(Snake)!, await client.MetricsWhenIdleAsync());
    }

    [Fact]
    public async Task GreedyAnswersEqualAPlainServersAndMetricsCountTheProposals()
    {
        var (plain, plainMetrics) = await Generate(null);
        var (speculative, metrics) = await Generate(new SpeculativeOptions { NGramMin = 1, Adaptive = false });

        foreach (var (want, got) in plain.Results.SelectMany(r => r.Completions).Zip(speculative.Results.SelectMany(r => r.Completions)))
        {
            Assert.Equal(want.TokenIds, got.TokenIds);
            Assert.Equal(want.WeightVersions, got.WeightVersions);
            Assert.All(want.Logprobs!.Zip(got.Logprobs!), p => Assert.Equal(p.First, p.Second, 1e-4));
        }
        double proposed = metrics.Value("rollout_spec_decode_num_draft_tokens_total");
        double accepted = metrics.Value("rollout_spec_decode_num_accepted_tokens_total");
        Assert.True(accepted > 0 && proposed >= accepted, $"{accepted} of {proposed} proposals kept");
        Assert.Equal(accepted / proposed, metrics.Value("rollout_spec_decode_acceptance_rate"), 1e-9);
        Assert.Equal(accepted / metrics.Value("rollout_spec_decode_num_drafts_total"), metrics.Value("rollout_spec_decode_mean_accepted_length"), 1e-9);
        Assert.True(metrics.Value("rollout_spec_decode_proposer_seconds_total") > 0);
        Assert.Equal(0, plainMetrics.Value("rollout_spec_decode_num_draft_tokens_total"));
        // Fewer steps for the same tokens: what speculation is for.
        Assert.True(metrics.Value("rollout_engine_steps_total") < plainMetrics.Value("rollout_engine_steps_total"));
    }
}
