using Rollout.Models.Chat;
using Rollout.Models.Checkpoints;
using Rollout.Models.Tokenization;
using Rollout.Models.Configuration;
using Rollout.Models.Loading;

namespace Rollout.Cli;

/// <summary>The <c>rollout</c> command: dispatch, help, and one clear line for every error.</summary>
internal static class RolloutCli
{
    static readonly string Usage = $"""
        usage: rollout <command> [options]

        {GenerateCommand.Help}
        {TokenizeCommand.Help}
        {CreateTestModelCommand.Help}
        {BenchCommand.Help}
        """;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            (args.Length == 0 ? error : output).WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            var line = CommandLine.Parse(args.Skip(1), "no-special-tokens", "chat", "quick");
            return args[0] switch
            {
                "generate" => GenerateCommand.Run(line, output, error),
                "tokenize" => TokenizeCommand.Run(line, output),
                "create-test-model" => CreateTestModelCommand.Run(line, output),
                "bench" => BenchCommand.Run(args, line, output),
                var other => throw new UsageException($"unknown command '{other}' (commands: generate, tokenize, create-test-model, bench)"),
            };
        }
        catch (UsageException e)
        {
            error.WriteLine($"error: {e.Message}");
            error.WriteLine("run 'rollout --help' for usage");
            return 2;
        }
        catch (Exception e) when (e is ModelLoadException or ModelConfigException or CheckpointFormatException
                                      or TokenizerFormatException or ChatTemplateException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
