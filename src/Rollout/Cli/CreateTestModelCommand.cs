using Rollout.Models.Testing;

namespace Rollout.Cli;

/// <summary><c>rollout create-test-model</c>: writes a tiny seeded HF-format model directory.</summary>
internal static class CreateTestModelCommand
{
    public const string Help = """
        rollout create-test-model --arch ARCHITECTURE --out DIR [--seed S]
          Writes a tiny model with seeded random weights and a real BPE tokenizer (HF format) into DIR.
          ARCHITECTURE: e.g. Qwen3ForCausalLM, LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM,
          LlamaForSequenceClassification.
        """;

    public static int Run(CommandLine line, TextWriter output)
    {
        string arch = line.String("arch") ?? throw new UsageException("--arch is required");
        string dir = line.String("out") ?? throw new UsageException("--out is required");
        var options = new TinyModelOptions { Seed = line.Int("seed", 1234) };
        line.RejectUnknown();
        var config = TinyModelFactory.Write(dir, arch, options);
        output.WriteLine($"wrote {config.Architecture} ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}) to {dir}");
        return 0;
    }
}
