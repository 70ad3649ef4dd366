using System.CommandLine;
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
    /// <summary>The command, its options and its action.</summary>
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "DIR|FILE.gguf",
            "a Hugging Face model directory or a GGUF file (default: a tiny random test model it creates)");
        var prompt = CliOptions.Text("--prompt", "TEXT",
            "the text to complete (may be empty, --prompt \"\": generation then starts from BOS)", required: true);
        var chat = CliOptions.Flag("--chat", "send the prompt as a user message through the model's chat template");
        var maxTokens = CliOptions.Integer("--max-tokens", "N", "most tokens to generate (with the prompt, within the model's context)", 64, min: 1);
        var temperature = CliOptions.Real("--temperature", "T", "0 for greedy, above 0 to sample", 0f, min: 0f);
        var seed = CliOptions.Integer("--seed", "S", "seed of the sampling draws", 0L);
        var placement = new ModelPlacementOptions();
        var speculation = new SpeculationCliOptions();
        var command = new Command("generate", "Prints the prompt and its completion, token by token.")
        {
            model, prompt, chat, maxTokens, temperature, seed,
        };
        placement.AddTo(command);
        speculation.AddTo(command);
        command.SetAction(result => Run(
            result.GetValue(model),
            speculation.Validate(result),
            draft => speculation.Read(result, draft),
            result.GetRequiredValue(prompt),
            result.GetValue(chat),
            new SamplingParams
            {
                MaxTokens = result.GetValue(maxTokens),
                Temperature = result.GetValue(temperature),
                Seed = result.GetValue(seed),
            },
            placement.Read(result),
            result.InvocationConfiguration.Output,
            result.InvocationConfiguration.Error).GetAwaiter().GetResult());
        return command;
    }

    static async Task<int> Run(string? modelPath, string? draftPath, Func<LoadedModel?, SpeculativeOptions?> speculation, string prompt, bool chat,
                               SamplingParams sampling, ModelOptions modelOptions, TextWriter output, TextWriter log)
    {
        using var loaded = ModelLoader.Load(modelPath ?? DefaultModel.EnsureExists(log), modelOptions);
        using var draft = draftPath is null ? null : ModelLoader.Load(draftPath, modelOptions);
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
        int maxTokens = sampling.MaxTokens!.Value;
        CheckFitsContext(promptIds.Count, maxTokens, model.Config.MaxPositionEmbeddings);
        output.Write(prompt);
        // A KV cache for this one request, not a share of the machine's memory; its size is bounded
        // by the context checked above, so no flag can ask libtorch for an impossible allocation.
        var engineOptions = new EngineOptions();
        long tokens = promptIds.Count + maxTokens + engineOptions.BlockSize;
        var speculative = speculation(draft);
        if (draft is not null && speculative is not null)
            speculative = speculative with { DraftKvCacheBytes = tokens * PagedKvTensors.BytesPerBlock(draft.Config, 1, draft.Model.Options.DType) };
        using var engine = LlmEngine.Create(loaded, engineOptions with
        {
            KvCacheBytes = tokens * PagedKvTensors.BytesPerBlock(model.Config, 1, model.Options.DType),
            Speculation = speculative,
        });
        await foreach (var step in engine.GenerateAsync(promptIds, sampling))
        {
            output.Write(step.Outputs[0].NewText);
            output.Flush();
        }
        output.WriteLine();
        return 0;
    }

    /// <summary>Throws unless the prompt and <paramref name="maxTokens"/> new tokens fit a <paramref name="context"/>-token context.</summary>
    static void CheckFitsContext(int promptTokens, int maxTokens, int context)
    {
        if (promptTokens == 0)
            throw new UsageException("the prompt encodes to no tokens and the tokenizer adds no BOS: give a non-empty --prompt");
        if (promptTokens >= context)
            throw new UsageException($"the prompt is {promptTokens} tokens: it leaves no room to generate within the model's {context}-token context");
        if ((long)promptTokens + maxTokens > context)
            throw new UsageException($"--max-tokens {maxTokens} plus the {promptTokens}-token prompt exceeds the model's {context}-token context: "
                                     + $"at most {context - promptTokens}");
    }
}
