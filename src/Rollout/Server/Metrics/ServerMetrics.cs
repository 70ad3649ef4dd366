using Prometheus;
using Rollout.Engine;

namespace Rollout.Server.Metrics;

/// <summary>
/// The server's Prometheus metrics, in a registry of its own (so several servers in one process do not
/// mix), named as vLLM names them with a <c>rollout_</c> prefix. Engine gauges and counters are read
/// from <see cref="LlmEngine.Metrics"/> when scraped; latencies are observed per request.
/// </summary>
internal sealed class ServerMetrics
{
    static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160];

    readonly Counter _httpRequests;
    readonly Histogram _timeToFirstToken;
    readonly Histogram _interTokenLatency;
    readonly Histogram _endToEnd;

    public ServerMetrics(Func<EngineMetrics> engine)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _httpRequests = factory.CreateCounter("rollout_http_requests_total", "HTTP requests by endpoint and status code.",
            new CounterConfiguration { LabelNames = ["endpoint", "status"] });
        _timeToFirstToken = factory.CreateHistogram("rollout_time_to_first_token_seconds", "Time from a request's arrival to its first token.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _interTokenLatency = factory.CreateHistogram("rollout_inter_token_latency_seconds", "Time between successive tokens of one completion.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _endToEnd = factory.CreateHistogram("rollout_e2e_request_latency_seconds", "Time from a request's arrival to its last token.",
            new HistogramConfiguration { Buckets = LatencyBuckets });

        var running = factory.CreateGauge("rollout_requests_running", "Sequences in the engine's running batch.");
        var waiting = factory.CreateGauge("rollout_requests_waiting", "Sequences waiting to be scheduled.");
        var kvUsage = factory.CreateGauge("rollout_kv_cache_usage_ratio", "KV blocks held by live sequences over all blocks (cached blocks no sequence holds count as free).");
        var prefixHitRate = factory.CreateGauge("rollout_prefix_cache_hit_rate", "Prompt tokens served by the prefix cache over prompt tokens looked up.");
        var promptTokens = factory.CreateCounter("rollout_prompt_tokens_total", "Prompt tokens computed (prefix-cache hits excluded).");
        var generated = factory.CreateCounter("rollout_generation_tokens_total", "Tokens generated.");
        var preemptions = factory.CreateCounter("rollout_num_preemptions_total", "Sequences preempted to free KV blocks.");
        var steps = factory.CreateCounter("rollout_engine_steps_total", "Engine steps run.");
        var version = factory.CreateGauge("rollout_weight_version", "Version of the weights the engine serves (0: as loaded).");
        var drafts = factory.CreateCounter("rollout_spec_decode_num_drafts_total", "Speculative verifications: one per speculating sequence and step.");
        var draftTokens = factory.CreateCounter("rollout_spec_decode_num_draft_tokens_total", "Tokens proposed to speculative verification.");
        var acceptedTokens = factory.CreateCounter("rollout_spec_decode_num_accepted_tokens_total", "Proposed tokens the rejection sampler kept.");
        var acceptance = factory.CreateGauge("rollout_spec_decode_acceptance_rate", "Kept proposals over proposed ones, since start.");
        var acceptedLength = factory.CreateGauge("rollout_spec_decode_mean_accepted_length", "Proposals kept per verification, since start.");
        var proposerTime = factory.CreateCounter("rollout_spec_decode_proposer_seconds_total", "Time spent proposing tokens.");
        Registry.AddBeforeCollectCallback(() =>
        {
            var m = engine();
            running.Set(m.Running);
            waiting.Set(m.Waiting);
            kvUsage.Set(m.KvCacheUsage);
            prefixHitRate.Set(m.PrefixCacheHitRate);
            promptTokens.IncTo(m.PromptTokensComputed);
            generated.IncTo(m.GeneratedTokens);
            preemptions.IncTo(m.Preemptions);
            steps.IncTo(m.Steps);
            version.Set(m.WeightVersion);
            drafts.IncTo(m.SpeculativeVerifications);
            draftTokens.IncTo(m.SpeculativeProposedTokens);
            acceptedTokens.IncTo(m.SpeculativeAcceptedTokens);
            acceptance.Set(m.SpeculativeAcceptanceRate);
            acceptedLength.Set(m.MeanAcceptedLength);
            proposerTime.IncTo(m.SpeculativeProposerTime.TotalSeconds);
        });
    }

    /// <summary>The registry <c>/metrics</c> exports.</summary>
    public CollectorRegistry Registry { get; }

    public void Request(string endpoint, int status) => _httpRequests.WithLabels(endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();

    public void FirstToken(TimeSpan sinceArrival) => _timeToFirstToken.Observe(sinceArrival.TotalSeconds);

    public void InterToken(TimeSpan gap) => _interTokenLatency.Observe(gap.TotalSeconds);

    public void Finished(TimeSpan sinceArrival) => _endToEnd.Observe(sinceArrival.TotalSeconds);
}
