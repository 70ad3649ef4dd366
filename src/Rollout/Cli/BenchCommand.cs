using System.CommandLine;

namespace Rollout.Cli;

/// <summary><c>rollout bench</c>: the benchmarks in bench/, one subcommand each.</summary>
internal static class BenchCommand
{
    /// <summary>The command and its benchmarks: one line per benchmark.</summary>
    public static Command Create() => new("bench", "Runs one of the benchmarks in bench/.")
    {
        BenchThroughputCommand.Create(),
        BenchPeerCommand.Create(),
        BenchServeCommand.Create(),
    };

    /// <summary>The <c>--json FILE</c> option every benchmark takes.</summary>
    public static Option<string> JsonOption() => CliOptions.Text("--json", "FILE", "also write the figures to FILE");
}
