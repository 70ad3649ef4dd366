using System.CommandLine;
using Rollout.Bench;
using Rollout.Bench.Serve;

namespace Rollout.Cli;

/// <summary><c>rollout bench serve</c>: the HTTP paths of <c>rollout serve</c> against the engine in process.</summary>
internal static class BenchServeCommand
{
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var quick = CliOptions.Flag("--quick", "a smaller workload and model, in seconds");
        var json = BenchCommand.JsonOption();
        var command = new Command("serve", """
            bench throughput's GRPO-shaped workload through /rl/generate and /v1/completions of a
            `rollout serve` child process, by concurrent clients, against the engine in process;
            then p50/p99 time to first token of streamed requests at a fixed rate.
            """) { quick, json };
        command.SetAction(result =>
        {
            var figures = ServeBenchmark.Run(result.GetValue(quick), result.InvocationConfiguration.Output);
            if (result.GetValue(json) is { } file) BenchJson.Write(file, figures);
            return 0;
        });
        return command;
    }
}
