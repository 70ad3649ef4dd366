using System.CommandLine;
using Rollout.Bench;
using Rollout.Bench.Throughput;

namespace Rollout.Cli;

/// <summary><c>rollout bench throughput</c>: the engine against a naive loop and static batching.</summary>
internal static class BenchThroughputCommand
{
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var quick = CliOptions.Flag("--quick", "a smaller workload and model, in seconds");
        var json = BenchCommand.JsonOption();
        var command = new Command("throughput", """
            A GRPO-shaped workload (32 prompts x 8 samples, 256-token prompts, 128 new tokens, temperature 1)
            on a ~25M-parameter Qwen3-style model: the engine against a naive loop and static batching.
            """) { quick, json };
        command.SetAction(result =>
        {
            var workload = result.GetValue(quick) ? ThroughputWorkload.Quick : ThroughputWorkload.Full;
            var figures = ThroughputBenchmark.Run(workload, result.InvocationConfiguration.Output);
            if (result.GetValue(json) is { } file) BenchJson.Write(file, figures);
            return 0;
        });
        return command;
    }
}
