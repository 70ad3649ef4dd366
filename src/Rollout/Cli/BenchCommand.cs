using Rollout.Bench;
using Rollout.Bench.Peer;
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
        rollout bench peer [--quick] [--json FILE] [--model FILE.gguf] [--threads N]
          Rollout's engine against llama.cpp (LLamaSharp, in a child process) on the same GGUF file
          (default: a stories110M-shaped F32 model it writes), interleaved runs, medians with min-max:
          decode1, batch32, batch64 (32-token prompts, 128 new tokens) and prefill512.
        """;

    public static int Run(string[] args, CommandLine line, TextWriter output)
    {
        if (SingleArenaRelaunch.RunRelaunchedIfNeeded(args) is int code) return code;
        if (line.Positional.Count != 1) throw new UsageException("bench takes one benchmark name: throughput or peer");
        bool quick = line.Flag("quick");
        string? json = line.String("json");
        switch (line.Positional[0])
        {
            case "throughput":
                line.RejectUnknown();
                var result = ThroughputBenchmark.Run(quick ? ThroughputWorkload.Quick : ThroughputWorkload.Full, output);
                if (json is not null) BenchJson.Write(json, result);
                return 0;
            case "peer":
                string? model = line.String("model");
                int threads = line.Int("threads", Math.Min(2, Environment.ProcessorCount), min: 1);
                line.RejectUnknown();
                var peer = PeerBenchmark.Run(quick, model, threads, output);
                if (json is not null) BenchJson.Write(json, peer);
                return 0;
            default:
                throw new UsageException($"unknown benchmark '{line.Positional[0]}' (benchmarks: throughput, peer)");
        }
    }
}
