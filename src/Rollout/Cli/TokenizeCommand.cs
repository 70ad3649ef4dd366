using System.Text.Json;
using Rollout.Models.Loading;
using Rollout.Models.Tokenization;

namespace Rollout.Cli;

/// <summary><c>rollout tokenize</c>: prints a text's token ids as a JSON array.</summary>
internal static class TokenizeCommand
{
    public const string Help = """
        rollout tokenize --model DIR|FILE.gguf [--no-special-tokens] TEXT
          Prints the ids of TEXT as a JSON array (special tokens such as BOS added unless --no-special-tokens).
        """;

    public static int Run(CommandLine line, TextWriter output)
    {
        string modelPath = line.String("model") ?? throw new UsageException("--model is required");
        bool addSpecial = !line.Flag("no-special-tokens");
        line.RejectUnknown();
        if (line.Positional.Count != 1) throw new UsageException("tokenize takes exactly one TEXT argument");
        var tokenizer = TokenizerLoader.Load(modelPath);
        output.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(line.Positional[0], addSpecial)));
        return 0;
    }
}
