using Rollout.Engine;
using Rollout.Engine.Execution;
using Rollout.Engine.Sampling;
using Rollout.Models;
using Rollout.Models.Chat;
using Rollout.Models.Loading;

namespace Rollout.Cli;

/// <summary>
/// <c>rollout generate</c>: loads a model and prints a completion of a prompt as the engine streams
/// it, through the same paged-KV engine a training loop drives.
/// </summary>
internal static class GenerateCommand
{
    public const string Help = """
        rollout generate [--model DIR|FILE.gguf] --prompt TEXT [--chat] [--max-tokens N] [--temperature T] [--seed S] [--device D] [--dtype T]
          Prints the prompt and its completion, token by token.
          --model        a Hugging Face model directory or a GGUF file (default: a tiny test model it creates)
          --prompt       the text to complete (may be empty: generation then starts from BOS)
          --chat         send the prompt as a user message through the model's chat template
          --max-tokens   most tokens to generate (default 64)
          --temperature  0 for greedy (default), above 0 to sample
          --seed         seed of the sampling draws (default 0)
          --device       cpu (default) or cuda / cuda:N, where the CUDA build of libtorch is installed
          --dtype        float32 (default) or bfloat16
        """;

    public static int Run(CommandLine line, TextWriter output, TextWriter log) => RunAsync(line, output, log).GetAwaiter().GetResult();

    static async Task<int> RunAsync(CommandLine line, TextWriter output, TextWriter log)
    {
        string? modelPath = line.String("model");
        string prompt = line.String("prompt") ?? throw new UsageException("--prompt is required (it may be empty: --prompt \"\")");
        bool chat = line.Flag("chat");
        var sampling = new SamplingParams
        {
            MaxTokens = line.Int("max-tokens", 64, min: 1),
            Temperature = (float)line.Double("temperature", 0, min: 0),
            Seed = line.Int("seed", 0),
        };
        var modelOptions = new ModelOptions { Device = Device(line.String("device") ?? "cpu"), DType = DType(line.String("dtype") ?? "float32") };
        line.RejectUnknown();
        if (line.Positional.Count > 0) throw new UsageException($"unexpected argument '{line.Positional[0]}'");
        using var loaded = ModelLoader.Load(modelPath ?? DefaultModel.EnsureExists(log), modelOptions);
        var tokenizer = loaded.Tokenizer ?? throw new ModelLoadException($"{loaded.Source} has no tokenizer: generate needs one to read the prompt");
        if (loaded.Model is not CausalLanguageModel model)
            throw new ModelLoadException($"{loaded.Config.Architecture} is not a language model: it scores sequences, it does not generate");
        if (chat)
        {
            var template = ChatTemplate.Parse(tokenizer.ChatTemplate
                ?? throw new ModelLoadException($"{loaded.Source} has no chat template: drop --chat"));
            prompt = template.Render([new ChatMessage("user", prompt)], new ChatTemplateOptions { AddGenerationPrompt = true });
        }
        // A rendered chat template already holds its BOS text.
        var promptIds = tokenizer.Encode(prompt, addSpecialTokens: !chat);
        if (promptIds.Count == 0)
            throw new UsageException("the prompt encodes to no tokens and the tokenizer adds no BOS: give a non-empty --prompt");
        output.Write(prompt);
        // A KV cache for this one request, not a share of the machine's memory.
        var engineOptions = new EngineOptions();
        long tokens = promptIds.Count + sampling.MaxTokens!.Value + engineOptions.BlockSize;
        using var engine = LlmEngine.Create(loaded, engineOptions with
        {
            KvCacheBytes = tokens * PagedKvTensors.BytesPerBlock(model.Config, 1, model.Options.DType),
        });
        await foreach (var step in engine.GenerateAsync(promptIds, sampling))
        {
            output.Write(step.Outputs[0].NewText);
            output.Flush();
        }
        output.WriteLine();
        return 0;
    }

    static TorchSharp.torch.Device Device(string name)
    {
        if (name != "cpu" && name != "cuda" && !name.StartsWith("cuda:", StringComparison.Ordinal))
            throw new UsageException($"--device must be cpu, cuda or cuda:N, not '{name}'");
        if (name != "cpu" && !TorchSharp.torch.cuda.is_available())
            throw new UsageException($"--device {name}: CUDA is not available (this build links the CPU libtorch, or no GPU is visible)");
        return TorchSharp.torch.device(name);
    }

    static TorchSharp.torch.ScalarType DType(string name) => name switch
    {
        "float32" => TorchSharp.torch.ScalarType.Float32,
        "bfloat16" => TorchSharp.torch.ScalarType.BFloat16,
        _ => throw new UsageException($"--dtype must be float32 or bfloat16, not '{name}'"),
    };
}
