using System.CommandLine;
using Rollout.Bench;
using Rollout.Bench.Peer;

namespace Rollout.Cli;

/// <summary><c>rollout bench peer</c>: the engine against llama.cpp on the same GGUF file.</summary>
internal static class BenchPeerCommand
{
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var quick = CliOptions.Flag("--quick", "a smaller workload and model, in seconds");
        var json = BenchCommand.JsonOption();
        var model = CliOptions.Text("--model", "FILE.gguf", "the GGUF model both run (default: a stories110M-shaped F32 model it writes)");
        var threads = CliOptions.Integer("--threads", "N", "CPU threads of each side", Math.Min(2, Environment.ProcessorCount), min: 1);
        var command = new Command("peer", """
            Rollout's engine against llama.cpp (LLamaSharp, in a child process) on the same GGUF file,
            interleaved runs, medians with min-max: decode1, batch32, batch64 (32-token prompts,
            128 new tokens) and prefill512.
            """) { quick, json, model, threads };
        command.SetAction(result =>
        {
            var figures = PeerBenchmark.Run(result.GetValue(quick), result.GetValue(model), result.GetValue(threads),
                                            result.InvocationConfiguration.Output);
            if (result.GetValue(json) is { } file) BenchJson.Write(file, figures);
            return 0;
        });
        return command;
    }
}
