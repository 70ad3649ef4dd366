using Rollout.Bench.Throughput;

namespace Rollout.Cli;

/// <summary><c>rollout bench</c>: the benchmarks in bench/, run from the CLI.</summary>
internal static class BenchCommand
{
    public const string Help = """
        rollout bench throughput [--quick] [--json FILE]
          A GRPO-shaped workload (32 prompts x 8 samples, 256-token prompts, 128 new tokens, temperature 1)
          on a ~25M-parameter Qwen3-style model: the engine against a naive loop and static batching.
          --quick  a smaller workload and model, in seconds
          --json   also write the figures to FILE
        """;

    public static int Run(string[] args, CommandLine line, TextWriter output)
    {
        if (SingleArenaRelaunch.RunRelaunchedIfNeeded(args) is int code) return code;
        if (line.Positional.Count != 1) throw new UsageException("bench takes one benchmark name: throughput");
        bool quick = line.Flag("quick");
        string? json = line.String("json");
        line.RejectUnknown();
        switch (line.Positional[0])
        {
            case "throughput":
                var result = ThroughputBenchmark.Run(quick ? ThroughputWorkload.Quick : ThroughputWorkload.Full, output);
                if (json is not null) ThroughputBenchmark.WriteJson(json, result);
                return 0;
            default:
                throw new UsageException($"unknown benchmark '{line.Positional[0]}' (benchmarks: throughput)");
        }
    }
}
