using Rollout.Models.Checkpoints.Gguf;
using Rollout.Models.Tokenization;

namespace Rollout.Models.Loading;

/// <summary>Loads only the tokenizer of a model directory or GGUF file, without its weights.</summary>
public static class TokenizerLoader
{
    /// <summary>The tokenizer of the model at <paramref name="path"/>.</summary>
    /// <exception cref="ModelLoadException">The path does not exist or has no tokenizer.</exception>
    public static ITextTokenizer Load(string path)
    {
        if (File.Exists(path) && path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using var file = GgufFile.Open(path);
            return SentencePieceTokenizer.FromGguf(file);
        }
        if (!Directory.Exists(path)) throw new ModelLoadException($"model path not found: {path}");
        if (!File.Exists(Path.Combine(path, "tokenizer.json")))
            throw new ModelLoadException($"{path} has no tokenizer.json");
        return HfTokenizer.Load(path);
    }
}
