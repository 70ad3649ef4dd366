using System.Net;
using System.Text;
using System.Text.Json;

namespace Rollout.Tests.Server;

/// <summary>JSON requests to a running server, with the answer's status checked and its body kept for the message.</summary>
internal static class ServerHttp
{
    public static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    /// <summary>POSTs <paramref name="body"/> as JSON and returns the 200 answer's JSON.</summary>
    public static async Task<JsonElement> PostOkAsync(this HttpClient client, string path, object body, CancellationToken cancellationToken = default)
    {
        using var response = await client.PostAsync(path, Json(body), cancellationToken);
        return await OkJsonAsync(response, path, cancellationToken);
    }

    public static async Task<JsonElement> GetOkAsync(this HttpClient client, string path, CancellationToken cancellationToken = default)
    {
        using var response = await client.GetAsync(path, cancellationToken);
        return await OkJsonAsync(response, path, cancellationToken);
    }

    public static async Task<PrometheusText> MetricsAsync(this HttpClient client)
    {
        using var response = await client.GetAsync("/metrics");
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics: {(int)response.StatusCode} {text}");
        return PrometheusText.Parse(text);
    }

    /// <summary>
    /// Scrapes /metrics until <paramref name="done"/> holds and returns that scrape; fails after
    /// <paramref name="timeout"/> with the last scrape's values of <paramref name="shown"/>.
    /// </summary>
    public static async Task<PrometheusText> MetricsWhenAsync(this HttpClient client, Func<PrometheusText, bool> done, TimeSpan timeout, params string[] shown)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var metrics = await client.MetricsAsync();
            if (done(metrics)) return metrics;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"/metrics did not reach the expected state in {timeout.TotalSeconds} s: " +
                            string.Join(", ", shown.Select(name => $"{name}={metrics.Value(name)}")));
            await Task.Delay(20);
        }
    }

    /// <summary>Scrapes until the engine holds no sequence and no KV block.</summary>
    public static Task<PrometheusText> MetricsWhenIdleAsync(this HttpClient client, TimeSpan? timeout = null) =>
        client.MetricsWhenAsync(m => m.Value("rollout_requests_running") == 0 && m.Value("rollout_requests_waiting") == 0
                                     && m.Value("rollout_kv_cache_usage_ratio") == 0,
            timeout ?? TimeSpan.FromSeconds(30), "rollout_requests_running", "rollout_requests_waiting", "rollout_kv_cache_usage_ratio");

    static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
