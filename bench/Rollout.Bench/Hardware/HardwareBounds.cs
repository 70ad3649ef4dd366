using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Bench.Hardware;

/// <summary>What the machine can do at best, measured in the same run as the workloads they bound.</summary>
internal static class HardwareBounds
{
    /// <summary>
    /// Best-of-several fp32 matmul GFLOP/s over the given (m, k, n) shapes through TorchSharp: the
    /// ceiling for compute-bound work (prefill, large decode batches).
    /// </summary>
    public static double MatmulGflops(IEnumerable<(long M, long K, long N)> shapes, Device device, TimeSpan budgetPerShape)
    {
        double best = 0;
        foreach (var (m, k, n) in shapes)
        {
            using var scope = NewDisposeScope();
            var a = randn([m, k], device: device);
            var b = randn([k, n], device: device);
            using (matmul(a, b)) { }
            int reps = 0;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < budgetPerShape || reps < 3)
            {
                using (matmul(a, b)) { }
                reps++;
            }
            best = Math.Max(best, 2.0 * m * k * n * reps / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Memory read bandwidth (GB/s): summing a buffer far larger than the caches, the ceiling for
    /// batch-1 decoding, which reads every weight once per token.
    /// </summary>
    public static double MemoryReadGbps(long bytes, Device device, TimeSpan budget)
    {
        using var scope = NewDisposeScope();
        var buffer = ones(bytes / sizeof(float), device: device);
        using (buffer.sum()) { }
        int reps = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < budget || reps < 3)
        {
            using (buffer.sum()) { }
            reps++;
        }
        return (double)bytes * reps / watch.Elapsed.TotalSeconds / 1e9;
    }
}
