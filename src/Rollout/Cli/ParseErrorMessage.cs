using System.CommandLine;
using System.CommandLine.Parsing;

namespace Rollout.Cli;

/// <summary>
/// The one line the CLI prints for a command line that does not parse. It is built from the shape of
/// the parse result, not from System.CommandLine's messages, which are localised and list every
/// leftover token; the messages our own option parsers add pass through unchanged.
/// </summary>
internal static class ParseErrorMessage
{
    /// <summary>What is wrong with <paramref name="result"/>, which has at least one error.</summary>
    public static string Describe(ParseResult result)
    {
        var command = result.CommandResult.Command;
        if (result.UnmatchedTokens is [var token, ..])
        {
            if (token.StartsWith('-')) return $"unknown option {token}";
            return command.Subcommands.Count > 0
                ? $"unknown command '{token}' ({CommandPath(result.CommandResult)} commands: {SubcommandNames(command)})"
                : $"unexpected argument '{token}'";
        }
        var error = result.Errors[0];
        return error.SymbolResult switch
        {
            OptionResult { IdentifierToken: null } o => $"{o.Option.Name} is required",
            OptionResult { Tokens.Count: 0 } o => $"{o.Option.Name} needs a value",
            OptionResult { Tokens.Count: > 1 } o => $"{o.Option.Name} given more than once",
            ArgumentResult { Tokens.Count: 0 } a => $"{command.Name} needs a {a.Argument.Name} argument",
            CommandResult { Command: { Action: null, Subcommands.Count: > 0 } c } r => $"{CommandPath(r)} needs a command: {SubcommandNames(c)}",
            _ => error.Message,
        };
    }

    /// <summary>The words that run <paramref name="result"/>'s command, e.g. <c>rollout bench peer</c>.</summary>
    public static string CommandPath(CommandResult result) =>
        result.Parent is CommandResult parent ? $"{CommandPath(parent)} {result.Command.Name}" : result.Command.Name;

    static string SubcommandNames(Command command) => string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
}
