using System.Text.Json;
using Rollout.Cli;
using Rollout.TestSupport;

namespace Rollout.Tests.Cli;

/// <summary>
/// The benchmarks' quick modes run end to end and write the figures their issues name. Speed is not
/// asserted here (benchmarks measure it); only that every figure is there and positive.
/// </summary>
public class BenchSmokeTests
{
    static JsonElement RunQuick(string benchmark)
    {
        string json = Path.Combine(TinyModels.TempFolder(), benchmark + ".json");
        var error = new StringWriter();
        int code = RolloutCli.Run(["bench", benchmark, "--quick", "--json", json], new StringWriter(), error);
        Assert.True(code == 0, $"bench {benchmark} exited {code}: {error}");
        return JsonDocument.Parse(File.ReadAllText(json)).RootElement;
    }

    [Fact]
    public void ThroughputWritesItsFigures()
    {
        var result = RunQuick("throughput");
        foreach (string key in new[] { "engine_tokens_per_s", "naive_tokens_per_s", "static_tokens_per_s", "decode_mfu" })
            Assert.True(result.GetProperty(key).GetDouble() > 0, key);
        Assert.InRange(result.GetProperty("prefix_hit_rate").GetDouble(), 0.5, 1.0);
    }

    [Fact]
    public void PeerWritesItsFigures()
    {
        var result = RunQuick("peer");
        foreach (string workload in new[] { "decode1", "batch32", "batch64", "prefill512" })
        {
            Assert.True(result.GetProperty($"rollout_{workload}_tps").GetDouble() > 0, workload);
            Assert.True(result.GetProperty($"llamacpp_{workload}_tps").GetDouble() > 0, workload);
        }
        Assert.True(result.GetProperty("matmul_gflops").GetDouble() > 0);
        Assert.True(result.GetProperty("mem_gbps").GetDouble() > 0);
        Assert.InRange(result.GetProperty("greedy_agreement").GetDouble(), 0.9, 1.0);
    }
}
