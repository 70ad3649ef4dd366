using System.CommandLine;
using Rollout.Models.Testing;

namespace Rollout.Cli;

/// <summary><c>rollout create-test-model</c>: writes a tiny seeded HF-format model directory.</summary>
internal static class CreateTestModelCommand
{
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var arch = CliOptions.Text("--arch", "ARCHITECTURE",
            "e.g. Qwen3ForCausalLM, LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, LlamaForSequenceClassification", required: true);
        var output = CliOptions.Text("--out", "DIR", "the directory to write", required: true);
        var seed = CliOptions.Integer("--seed", "S", "seed of the random weights", new TinyModelOptions().Seed);
        var command = new Command("create-test-model",
            "Writes a tiny model with seeded random weights and a real BPE tokenizer (HF format) into DIR.") { arch, output, seed };
        command.SetAction(result =>
        {
            string dir = result.GetRequiredValue(output);
            var config = TinyModelFactory.Write(dir, result.GetRequiredValue(arch), new TinyModelOptions { Seed = result.GetValue(seed) });
            result.InvocationConfiguration.Output.WriteLine(
                $"wrote {config.Architecture} ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}) to {dir}");
            return 0;
        });
        return command;
    }
}
