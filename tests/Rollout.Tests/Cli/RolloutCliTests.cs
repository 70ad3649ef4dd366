using System.CommandLine;
using System.Text.Json;
using Rollout.Cli;
using Rollout.TestSupport;

namespace Rollout.Tests.Cli;

public class RolloutCliTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = RolloutCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void GeneratePrintsThePromptAndGeneratedText()
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        var (code, output, error) = Run("generate", "--model", dir, "--prompt", "Once upon a time", "--max-tokens", "12");
        Assert.True(code == 0, error);
        Assert.StartsWith("Once upon a time", output);
        Assert.True(output.TrimEnd().Length > "Once upon a time".Length, $"nothing generated: '{output}'");
    }

    [Fact]
    public void ChatRendersTheTemplateAroundThePrompt()
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        var (code, output, error) = Run("generate", "--model", dir, "--prompt", "Hi there", "--chat", "--max-tokens", "4");
        Assert.True(code == 0, error);
        Assert.StartsWith("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", output);
    }

    [Fact]
    public void GenerateIsDeterministicForASeed()
    {
        string dir = TinyModels.Directory("LlamaForCausalLM");
        string[] args = ["generate", "--model", dir, "--prompt", "hello", "--max-tokens", "10", "--temperature", "0.8", "--seed", "3"];
        Assert.Equal(Run(args).Out, Run(args).Out);
    }

    [Theory]
    [InlineData("ngram")]
    [InlineData("draft")]
    public void SpeculativeGreedyGenerationPrintsWhatPlainGenerationPrints(string method)
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        string[] plain = ["generate", "--model", dir, "--prompt", "the cat the cat the cat", "--max-tokens", "30"];
        string[] speculative = method == "ngram"
            ? [.. plain, "--speculative-method", "ngram", "--ngram-min", "1"]
            : [.. plain, "--speculative-method", "draft", "--draft-model", TinyModels.Directory("LlamaForCausalLM"), "--num-speculative-tokens", "3"];
        var want = Run(plain);
        var got = Run(speculative);
        Assert.True(got.Code == 0, got.Err);
        Assert.Equal(want.Out, got.Out);
    }

    [Fact]
    public void TokenizePrintsJsonIds()
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        var (code, output, error) = Run("tokenize", "--model", dir, "hello world");
        Assert.True(code == 0, error);
        var ids = JsonSerializer.Deserialize<int[]>(output);
        Assert.NotNull(ids);
        Assert.NotEmpty(ids);
    }

    [Fact]
    public void MissingModelDirectoryIsOneClearLine()
    {
        var (code, _, error) = Run("generate", "--model", "/nonexistent/model", "--prompt", "x");
        Assert.Equal(1, code);
        Assert.Equal("error: model path not found: /nonexistent/model", error.Trim());
    }

    [Fact]
    public void BadConfigIsOneClearLine()
    {
        string dir = TinyModels.TempFolder();
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ not json");
        var (code, _, error) = Run("generate", "--model", dir, "--prompt", "x");
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("config.json", error);
        Assert.Contains("not valid JSON", error);
    }

    [Fact]
    public void UnsupportedArchitectureIsOneClearLine()
    {
        string dir = TinyModels.TempFolder();
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"architectures": ["FalconForCausalLM"]}""");
        var (code, _, error) = Run("generate", "--model", dir, "--prompt", "x");
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("Unsupported architecture 'FalconForCausalLM'", error);
    }

    [Theory]
    [InlineData(new[] { "generate", "--model" }, "--model needs a value")]
    [InlineData(new[] { "generate", "--prompt", "x", "--max-tokens", "-3" }, "--max-tokens must be an integer >= 1")]
    [InlineData(new[] { "generate", "--prompt", "x", "--temprature", "1" }, "unknown option --temprature")]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "generate" }, "--prompt is required")]
    [InlineData(new[] { "generate", "--prompt", "x", "--device", "tpu" }, "--device must be cpu, cuda or cuda:N")]
    [InlineData(new[] { "generate", "--prompt", "x", "--dtype", "int8" }, "--dtype must be float32 or bfloat16")]
    [InlineData(new[] { "generate", "--prompt", "x", "--prompt", "y" }, "--prompt given more than once")]
    [InlineData(new[] { "tokenize", "--model", "m" }, "tokenize needs a TEXT argument")]
    [InlineData(new[] { "bench" }, "rollout bench needs a command: throughput, peer")]
    [InlineData(new[] { "bench", "frob" }, "unknown command 'frob'")]
    [InlineData(new[] { "bench", "peer", "--threads", "0" }, "--threads must be an integer >= 1")]
    [InlineData(new[] { "generate", "--prompt", "x", "--speculative-method", "eagle" }, "--speculative-method must be none, ngram or draft")]
    [InlineData(new[] { "generate", "--prompt", "x", "--speculative-method", "draft" }, "--speculative-method draft needs --draft-model")]
    [InlineData(new[] { "generate", "--prompt", "x", "--draft-model", "m" }, "--draft-model is used only with --speculative-method draft")]
    [InlineData(new[] { "generate", "--prompt", "x", "--speculative-method", "ngram", "--num-speculative-tokens", "16" }, "--num-speculative-tokens must be at most 15")]
    [InlineData(new[] { "generate", "--prompt", "x", "--speculative-method", "ngram", "--ngram-min", "3", "--ngram-max", "2" }, "--ngram-max (2) must be at least --ngram-min (3)")]
    [InlineData(new[] { "serve", "--model", "m", "--speculative-method", "draft" }, "--speculative-method draft needs --draft-model")]
    [InlineData(new[] { "generate", "--prompt", "x", "--num-speculative-tokens", "3" }, "--num-speculative-tokens is used only with --speculative-method ngram or draft")]
    [InlineData(new[] { "generate", "--prompt", "x", "--speculative-method", "draft", "--draft-model", "m", "--ngram-min", "1" }, "--ngram-min is used only with --speculative-method ngram")]
    public void UsageErrorsExitWithTwo(string[] args, string expected)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("--temprature", "1")]
    [InlineData("--max-tokens", "0")]
    [InlineData("--max-tokens", "many")]
    [InlineData("--temperature", "-1")]
    [InlineData("--temperature", "NaN")]
    [InlineData("--device", "tpu")]
    [InlineData("--device", "cuda:x")]
    public void BadFlagIsOneErrorLineAndAHint(string flag, string value)
    {
        var (code, output, error) = Run("generate", "--prompt", "x", flag, value);
        Assert.Equal(2, code);
        Assert.Empty(output);
        string[] lines = Lines(error);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(flag, lines[0]);
        Assert.Equal("run 'rollout generate --help' for usage", lines[1]);
    }

    [Fact]
    public void MissingPromptIsOneErrorLine()
    {
        var (code, _, error) = Run("generate", "--max-tokens", "4");
        Assert.Equal(2, code);
        Assert.Equal(["error: --prompt is required", "run 'rollout generate --help' for usage"], Lines(error));
    }

    [Fact]
    public void MaxTokensJustBeyondTheContextIsOneLineBeforeAnythingRuns()
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        AssertRefusedBeforeGenerating(dir, MaxPositionEmbeddings(dir) + 1);
    }

    [Fact]
    public void HugeMaxTokensIsOneLineNotAnAbort() =>
        AssertRefusedBeforeGenerating(TinyModels.Directory("Qwen3ForCausalLM"), 99999999);

    static void AssertRefusedBeforeGenerating(string modelDirectory, int maxTokens)
    {
        int context = MaxPositionEmbeddings(modelDirectory);
        Assert.True(maxTokens > context, $"pick a max-tokens above the model's {context}-token context");

        var (code, output, error) = Run("generate", "--model", modelDirectory, "--prompt", "x", "--max-tokens", maxTokens.ToString());

        Assert.Equal(2, code);
        Assert.Empty(output);
        string line = Assert.Single(Lines(error));
        Assert.StartsWith($"error: --max-tokens {maxTokens} ", line);
        Assert.Contains($"{context}-token context", line);
    }

    [Fact]
    public void MaxTokensMayFillTheContextExactly()
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        int context = MaxPositionEmbeddings(dir);
        var (tokenizeCode, ids, tokenizeError) = Run("tokenize", "--model", dir, "x");
        Assert.True(tokenizeCode == 0, tokenizeError);
        int room = context - JsonSerializer.Deserialize<int[]>(ids)!.Length;

        var fits = Run("generate", "--model", dir, "--prompt", "x", "--max-tokens", room.ToString());
        var overflows = Run("generate", "--model", dir, "--prompt", "x", "--max-tokens", (room + 1).ToString());

        Assert.True(fits.Code == 0, fits.Err);
        Assert.Equal(2, overflows.Code);
        Assert.EndsWith($"at most {room}", Assert.Single(Lines(overflows.Err)));
    }

    [Theory]
    [MemberData(nameof(EveryCommand))]
    public void EveryCommandHasHelpListingItsOptions(string[] path)
    {
        var command = path.Aggregate(RolloutCli.CreateRoot(), (parent, name) => parent.Subcommands.Single(c => c.Name == name));

        var (code, output, error) = Run([.. path, "--help"]);

        Assert.True(code == 0, error);
        Assert.Empty(error);
        Assert.Contains($"rollout {string.Join(' ', path)}".TrimEnd(), output);
        foreach (var option in command.Options) Assert.Contains(option.Name, output);
        foreach (var subcommand in command.Subcommands) Assert.Contains(subcommand.Name, output);
    }

    public static TheoryData<string[]> EveryCommand()
    {
        var paths = new TheoryData<string[]>();
        void Walk(Command command, string[] path)
        {
            paths.Add(path);
            foreach (var subcommand in command.Subcommands) Walk(subcommand, [.. path, subcommand.Name]);
        }
        Walk(RolloutCli.CreateRoot(), []);
        return paths;
    }

    [Fact]
    public void GenerateHelpDescribesMaxTokens()
    {
        var (code, output, _) = Run("generate", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--max-tokens <N>", output);
        Assert.Contains("[default: 64]", output);
    }

    [Fact]
    public void HelpCommandReadsAsHelpOption() => Assert.Equal(Run("generate", "--help"), Run("help", "generate"));

    [Fact]
    public void NoCommandPrintsUsageToStandardErrorAndExitsWithTwo()
    {
        var (code, output, error) = Run();
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Contains("generate", error);
        Assert.Contains("bench", error);
    }

    [Fact]
    public void VersionPrintsTheAssemblyVersion()
    {
        var (code, output, error) = Run("--version");
        Assert.True(code == 0, error);
        Assert.Matches(@"^rollout \d+\.\d+\.\d+", output);
        Assert.Single(Lines(output));
    }

    static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    static int MaxPositionEmbeddings(string modelDirectory) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(modelDirectory, "config.json"))).RootElement
            .GetProperty("max_position_embeddings").GetInt32();

    [RequiresSharedFixtureFact("stories260K")]
    public void Stories260KReproducesLlama2cPublishedGreedyStory()
    {
        const string published = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
            "One day, she saw a big, red ball. She wanted to play with it, but it was too high.";
        string model = Path.Combine(TestPaths.SharedFixtures, "stories260K", "stories260K-f32.gguf");
        var (code, output, error) = Run("generate", "--model", model, "--prompt", "", "--max-tokens", "200");
        Assert.True(code == 0, error);
        Assert.StartsWith(published, output);
    }
}
