using System.Text.RegularExpressions;

namespace Rollout.Tests.Server;

/// <summary>/metrics is valid Prometheus text whose counters follow the traffic the server saw.</summary>
[Collection(ServerCollection.Name)]
public class MetricsEndpointTests(ServerFixture fixture)
{
    const string Http = "rollout_http_requests_total";
    const string Generated = "rollout_generation_tokens_total";

    static (string, string)[] Labels(string endpoint, int status) => [("endpoint", endpoint), ("status", status.ToString())];

    [Fact]
    public async Task DeclaresEveryFamilyWithItsType()
    {
        var metrics = await fixture.Anonymous.MetricsAsync();

        foreach (var (family, type) in new[]
                 {
                     (Http, "counter"), (Generated, "counter"), ("rollout_prompt_tokens_total", "counter"), ("rollout_num_preemptions_total", "counter"),
                     ("rollout_engine_steps_total", "counter"), ("rollout_requests_running", "gauge"), ("rollout_requests_waiting", "gauge"),
                     ("rollout_kv_cache_usage_ratio", "gauge"), ("rollout_prefix_cache_hit_rate", "gauge"), ("rollout_weight_version", "gauge"),
                     ("rollout_time_to_first_token_seconds", "histogram"), ("rollout_inter_token_latency_seconds", "histogram"),
                     ("rollout_e2e_request_latency_seconds", "histogram"),
                     ("rollout_spec_decode_num_drafts_total", "counter"), ("rollout_spec_decode_num_draft_tokens_total", "counter"),
                     ("rollout_spec_decode_num_accepted_tokens_total", "counter"), ("rollout_spec_decode_acceptance_rate", "gauge"),
                     ("rollout_spec_decode_mean_accepted_length", "gauge"), ("rollout_spec_decode_proposer_seconds_total", "counter"),
                 })
            Assert.True(metrics.Types.TryGetValue(family, out var declared) && declared == type, $"{family} is not declared as a {type}");
    }

    [Fact]
    public async Task CountersFollowTheTraffic()
    {
        var before = await fixture.User.MetricsAsync();

        // Fresh prompts, so the prefix cache cannot serve them and prompt tokens are computed.
        string fresh = Guid.NewGuid().ToString("N");
        var first = await fixture.User.PostOkAsync("/v1/completions", new { prompt = "Once upon a time " + fresh, max_tokens = 6 });
        var second = await fixture.User.PostOkAsync("/v1/completions", new { prompt = "The cat " + fresh, max_tokens = 4 });
        using (await fixture.User.PostAsync("/v1/completions", ServerHttp.Json(new { prompt = "hi", n = 0 }))) { }
        using (await fixture.User.GetAsync("/no/such/path")) { }
        int generated = first.GetProperty("usage").GetProperty("completion_tokens").GetInt32()
                        + second.GetProperty("usage").GetProperty("completion_tokens").GetInt32();

        // Counters are bumped as each answer ends, and the engine's are read as of its last step: wait for them, then demand the exact deltas.
        var after = await fixture.User.MetricsWhenAsync(m =>
                m.Value(Http, Labels("/v1/completions", 200)) >= before.Value(Http, Labels("/v1/completions", 200)) + 2
                && m.Value(Http, Labels("/v1/completions", 400)) >= before.Value(Http, Labels("/v1/completions", 400)) + 1
                && m.Value(Http, Labels("unmatched", 404)) >= before.Value(Http, Labels("unmatched", 404)) + 1
                && m.Value(Generated) >= before.Value(Generated) + generated,
            TimeSpan.FromSeconds(10), Generated);

        Assert.Equal(2, after.Value(Http, Labels("/v1/completions", 200)) - before.Value(Http, Labels("/v1/completions", 200)));
        Assert.Equal(1, after.Value(Http, Labels("/v1/completions", 400)) - before.Value(Http, Labels("/v1/completions", 400)));
        Assert.Equal(1, after.Value(Http, Labels("unmatched", 404)) - before.Value(Http, Labels("unmatched", 404)));
        Assert.Equal(generated, after.Value(Generated) - before.Value(Generated));
        Assert.Equal(2, after.Value("rollout_e2e_request_latency_seconds_count") - before.Value("rollout_e2e_request_latency_seconds_count"));
        Assert.Equal(2, after.Value("rollout_time_to_first_token_seconds_count") - before.Value("rollout_time_to_first_token_seconds_count"));
        Assert.True(after.Value("rollout_prompt_tokens_total") > before.Value("rollout_prompt_tokens_total"));
        Assert.All(after.Samples.Where(s => s.Name == Http), s => Assert.Matches(new Regex(@"^[1-5]\d\d$"), s.Labels["status"]));
    }
}
