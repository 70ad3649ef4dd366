using Rollout.Models.Testing;

namespace Rollout.Cli;

/// <summary>
/// The model <c>rollout generate</c> uses when none is named: a tiny seeded Qwen3 test model with a
/// real tokenizer, written once under the user's cache folder. Its weights are random: the text is
/// gibberish, but every stage (loader, tokenizer, model, generation) runs for real.
/// </summary>
internal static class DefaultModel
{
    public static string EnsureExists(TextWriter log)
    {
        string root = Environment.GetEnvironmentVariable("ROLLOUT_CACHE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rollout");
        string directory = Path.Combine(root, "models", "tiny-qwen3");
        if (!File.Exists(Path.Combine(directory, "model.safetensors")))
        {
            string staging = directory + ".partial-" + Environment.ProcessId;
            TinyModelFactory.Write(staging, "Qwen3ForCausalLM");
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            Directory.Move(staging, directory);
        }
        log.WriteLine($"no --model given: using a tiny random Qwen3 test model at {directory}");
        return directory;
    }
}
