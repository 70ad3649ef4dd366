namespace Rollout.Tests.Server;

/// <summary>The test-side exposition reader is strict enough that /metrics passing it means something.</summary>
public class PrometheusTextTests
{
    const string Valid = """
        # HELP requests_total Requests.
        # TYPE requests_total counter
        requests_total{endpoint="/v1/completions",status="200"} 3
        requests_total{endpoint="a \"quoted\\ name\"",status="400"} 1
        # HELP latency_seconds Latency.
        # TYPE latency_seconds histogram
        latency_seconds_sum 0.5
        latency_seconds_count 2
        latency_seconds_bucket{le="0.1"} 1
        latency_seconds_bucket{le="+Inf"} 2
        # TYPE up gauge
        up 1e0

        """;

    [Fact]
    public void ReadsSamplesLabelsAndHistogramParts()
    {
        var text = PrometheusText.Parse(Valid);
        Assert.Equal(3, text.Value("requests_total", ("endpoint", "/v1/completions"), ("status", "200")));
        Assert.Equal(1, text.Value("requests_total", ("endpoint", "a \"quoted\\ name\""), ("status", "400")));
        Assert.Equal(2, text.Value("latency_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(1, text.Value("up"));
        Assert.Equal("histogram", text.Types["latency_seconds"]);
    }

    [Theory]
    [InlineData("undeclared 1\n")]
    [InlineData("# TYPE up gauge\nup one\n")]
    [InlineData("# TYPE up gauge\nup 1 1700000000\n")]
    [InlineData("# TYPE up gauge\nup{a=\"1\" 1\n")]
    [InlineData("# TYPE up gauge\nup{a=1} 1\n")]
    [InlineData("# TYPE up gauge\nup{a=\"\\t\"} 1\n")]
    [InlineData("# TYPE up gauge\nup 1\nup 2\n")]
    [InlineData("# TYPE up gauge\n# TYPE up counter\nup 1\n")]
    [InlineData("# TYPE up meter\nup 1\n")]
    [InlineData("# a free comment\n")]
    [InlineData("# TYPE up gauge\n\nup 1\n")]
    [InlineData("# TYPE up gauge\nup 1")]
    [InlineData("# TYPE h histogram\nh_bucket 1\n")]
    [InlineData("# TYPE s summary\ns_bucket{le=\"1\"} 1\n")]
    public void RefusesWhatScrapersWouldNot(string exposition) =>
        Assert.Throws<FormatException>(() => PrometheusText.Parse(exposition));
}
