using System.CommandLine;
using System.Text.Json;
using Rollout.Models.Loading;

namespace Rollout.Cli;

/// <summary><c>rollout tokenize</c>: prints a text's token ids as a JSON array.</summary>
internal static class TokenizeCommand
{
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "DIR|FILE.gguf", "the model whose tokenizer to use", required: true);
        var noSpecialTokens = CliOptions.Flag("--no-special-tokens", "leave out the special tokens (such as BOS) the tokenizer adds");
        var text = new Argument<string>("TEXT") { Description = "the text to tokenize" };
        var command = new Command("tokenize", "Prints the ids of TEXT as a JSON array.") { model, noSpecialTokens, text };
        command.SetAction(result =>
        {
            var tokenizer = TokenizerLoader.Load(result.GetRequiredValue(model));
            var ids = tokenizer.Encode(result.GetRequiredValue(text), addSpecialTokens: !result.GetValue(noSpecialTokens));
            result.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(ids));
            return 0;
        });
        return command;
    }
}
