using Rollout.Engine;

namespace Rollout.Bench.SpecDecode;

/// <summary>One timed pass of a workload through one engine.</summary>
/// <param name="TokensPerSecond">Generated tokens over the wall time of the generation calls.</param>
/// <param name="Tokens">Each request's generated ids, in prompt order: what the greedy comparison reads.</param>
/// <param name="Steps">Engine steps the pass took: tokens per step bounds what speculation can gain.</param>
/// <param name="Speculation">What speculation did during the pass.</param>
/// <param name="Metrics">The engine's metrics after the pass (its step profile covers the warm-up too).</param>
internal sealed record SpecDecodeRun(double TokensPerSecond, int[][] Tokens, long Steps, SpeculationCounts Speculation, EngineMetrics Metrics)
{
    public double TokensPerStep => (double)Tokens.Sum(t => t.Length) / Steps;
}
