using System.CommandLine;
using System.CommandLine.Help;
using Rollout.Engine.Sampling;
using Rollout.Models.Chat;
using Rollout.Models.Checkpoints;
using Rollout.Models.Configuration;
using Rollout.Models.Loading;
using Rollout.Models.Tokenization;

namespace Rollout.Cli;

/// <summary>
/// The <c>rollout</c> command: its command tree, and one clear line for every error. Usage errors
/// (a command line that does not parse, or a request the model cannot serve) exit with 2; a model,
/// file or tokenizer that cannot be read exits with 1.
/// </summary>
internal static class RolloutCli
{
    /// <summary>The commands under <c>rollout</c>, in the order help lists them: one line per command.</summary>
    static IEnumerable<Command> Commands() =>
    [
        GenerateCommand.Create(),
        ServeCommand.Create(),
        WeightsCommand.Create(),
        TokenizeCommand.Create(),
        CreateTestModelCommand.Create(),
        BenchCommand.Create(),
    ];

    /// <summary>Runs the command <paramref name="args"/> name; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = CreateRoot();
        if (args.Length == 0)
        {
            root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = error, Error = error });
            return 2;
        }
        // `rollout help generate` reads as `rollout generate --help`.
        var result = root.Parse(args is ["help", .. var rest] ? [.. rest, "--help"] : args);
        if (result.Errors.Count > 0)
        {
            // System.CommandLine would print every error and the whole help, and exit with 1.
            error.WriteLine($"error: {ParseErrorMessage.Describe(result)}");
            error.WriteLine($"run '{ParseErrorMessage.CommandPath(result.CommandResult)} --help' for usage");
            return 2;
        }
        try
        {
            // Its default handler would print a stack trace for the exceptions handled below.
            return result.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is UsageException or InvalidSamplingParametersException)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is ModelLoadException or ModelConfigException or CheckpointFormatException
                                      or TokenizerFormatException or ChatTemplateException or WeightSync.WeightUpdateException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// A plain <see cref="Command"/> rather than a <see cref="RootCommand"/>: the latter names itself
    /// after the host process, which under <c>dotnet test</c> is the test host.
    /// </summary>
    internal static Command CreateRoot()
    {
        var root = new Command("rollout", "Rollout: an LLM generation engine for RL training loops, on TorchSharp.")
        {
            new HelpOption(),
            new VersionOption { Action = new PrintVersionAction() },
        };
        foreach (var command in Commands()) root.Subcommands.Add(command);
        return root;
    }
}
