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

    [Fact]
    public void TokenizePrintsJsonIds()
    {
        string dir = TinyModels.Directory("Qwen3ForCausalLM");
        var (code, output, error) = Run("tokenize", "--model", dir, "hello world");
        Assert.True(code == 0, error);
        var ids = System.Text.Json.JsonSerializer.Deserialize<int[]>(output);
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
    public void UsageErrorsExitWithTwo(string[] args, string expected)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }

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
