using System.CommandLine;
using Rollout.Bench;
using Rollout.Bench.Peer;
using Rollout.Bench.Serve;
using Rollout.Bench.SpecDecode;
using Rollout.Bench.Throughput;
using Rollout.Bench.WeightSync;

namespace Rollout.Cli;

/// <summary><c>rollout bench</c>: the benchmarks in bench/, one subcommand each.</summary>
internal static class BenchCommand
{
    /// <summary>The command and its benchmarks: one line per benchmark.</summary>
    public static Command Create() => new("bench", "Runs one of the benchmarks in bench/.")
    {
        Benchmark("throughput", """
            A GRPO-shaped workload (32 prompts x 8 samples, 256-token prompts, 128 new tokens, temperature 1)
            on a ~25M-parameter Qwen3-style model: the engine against a naive loop and static batching.
            """, (quick, log) => ThroughputBenchmark.Run(quick ? ThroughputWorkload.Quick : ThroughputWorkload.Full, log)),
        BenchPeerCommand.Create(),
        Benchmark("serve", """
            bench throughput's GRPO-shaped workload through /rl/generate and /v1/completions of a
            `rollout serve` child process, by concurrent clients, against the engine in process;
            then p50/p99 time to first token of streamed requests at a fixed rate.
            """, ServeBenchmark.Run),
        Benchmark("weightsync", """
            A full update of the stories110M-shaped model (about 440 MB fp32) in process, over IPC and over
            HTTP (sender and server in child processes), against a one-thread memcpy and a raw loopback TCP
            copy; and the longest stall of a batch-64 decode while updates with keep apply.
            """, WeightSyncBenchmark.Run),
        Benchmark("specdecode", """
            Greedy decode tokens/s with and without n-gram speculative decoding, at batch 1 and batch 16, on a
            copy-heavy workload (a small model the benchmark trains to copy), on the stories260K fixture's stories
            when ROLLOUT_FIXTURES has it, and on random prompts to bench peer's stories110M-shaped random model.
            """, SpecDecodeBenchmark.Run),
    };

    /// <summary>The <c>--json FILE</c> option every benchmark takes.</summary>
    public static Option<string> JsonOption() => CliOptions.Text("--json", "FILE", "also write the figures to FILE");

    /// <summary>A benchmark whose only options are <c>--quick</c> and <c>--json</c>.</summary>
    static Command Benchmark(string name, string description, Func<bool, TextWriter, IReadOnlyDictionary<string, object>> run)
    {
        var quick = CliOptions.Flag("--quick", "a smaller workload and model, in seconds");
        var json = JsonOption();
        var command = new Command(name, description) { quick, json };
        command.SetAction(result =>
        {
            var figures = run(result.GetValue(quick), result.InvocationConfiguration.Output);
            if (result.GetValue(json) is { } file) BenchJson.Write(file, figures);
            return 0;
        });
        return command;
    }
}
