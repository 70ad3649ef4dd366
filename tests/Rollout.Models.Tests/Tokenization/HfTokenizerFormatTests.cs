using System.Text.Json.Nodes;
using Rollout.Models.Tokenization;

namespace Rollout.Models.Tests.Tokenization;

public sealed class HfTokenizerFormatTests : IDisposable
{
    readonly TempDirectory _dir = new();

    public HfTokenizerFormatTests() => TinyBpeTokenizerBuilder.Write(_dir.Path);

    public void Dispose() => _dir.Dispose();

    TokenizerFormatException Refused(string file, string expectedProblem)
    {
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.Load(_dir.Path));
        Assert.Contains(Path.Combine(_dir.Path, file), e.Message);
        Assert.Contains(expectedProblem, e.Message);
        return e;
    }

    void EditTokenizer(Action<JsonObject> edit) => TestTokenizerFiles.Edit(_dir.Path, "tokenizer.json", edit);

    [Fact]
    public void MissingTokenizerJsonIsFileNotFound()
    {
        File.Delete(Path.Combine(_dir.Path, "tokenizer.json"));
        Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(_dir.Path));
    }

    [Fact]
    public void MissingConfigLeavesNoEosAndNoTemplate()
    {
        File.Delete(Path.Combine(_dir.Path, "tokenizer_config.json"));
        var tokenizer = HfTokenizer.Load(_dir.Path);
        Assert.Empty(tokenizer.EosTokenIds);
        Assert.Null(tokenizer.ChatTemplate);
    }

    [Theory]
    [InlineData("tokenizer.json")]
    [InlineData("tokenizer_config.json")]
    public void TruncatedJsonNamesTheFile(string file)
    {
        string path = Path.Combine(_dir.Path, file);
        File.WriteAllText(path, File.ReadAllText(path)[..40]);
        Refused(file, "not valid JSON");
    }

    [Fact]
    public void TopLevelArrayIsRefused()
    {
        File.WriteAllText(Path.Combine(_dir.Path, "tokenizer.json"), "[1, 2]");
        Refused("tokenizer.json", "JSON object");
    }

    [Fact]
    public void MissingModelIsRefused()
    {
        EditTokenizer(j => j.Remove("model"));
        Refused("tokenizer.json", "\"model\"");
    }

    [Fact]
    public void WordPieceModelIsRefused()
    {
        EditTokenizer(j => j["model"]!["type"] = "WordPiece");
        Refused("tokenizer.json", "WordPiece");
    }

    [Fact]
    public void ByteFallbackIsRefused()
    {
        EditTokenizer(j => j["model"]!["byte_fallback"] = true);
        Refused("tokenizer.json", "byte_fallback");
    }

    [Fact]
    public void MalformedMergeIsRefused()
    {
        EditTokenizer(j => j["model"]!["merges"]!.AsArray().Add(JsonValue.Create(7)));
        Refused("tokenizer.json", "merge #");
    }

    [Fact]
    public void StringMergesAreAccepted()
    {
        var reference = HfTokenizer.Load(_dir.Path).Encode("the robot counted the waves");
        EditTokenizer(j =>
        {
            var merges = j["model"]!["merges"]!.AsArray();
            var strings = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create($"{m![0]} {m[1]}")).ToArray());
            j["model"]!["merges"] = strings;
        });
        Assert.Equal(reference, HfTokenizer.Load(_dir.Path).Encode("the robot counted the waves"));
    }

    [Fact]
    public void VocabIdThatIsNotANumberIsRefused()
    {
        EditTokenizer(j => j["model"]!["vocab"]!["Ġ"] = "zero");
        Refused("tokenizer.json", "vocab entry");
    }

    [Fact]
    public void UnsupportedNormalizerIsRefused()
    {
        EditTokenizer(j => j["normalizer"] = JsonNode.Parse("""{"type": "Lowercase"}"""));
        Refused("tokenizer.json", "normalizer \"Lowercase\"");
    }

    [Fact]
    public void UnsupportedPreTokenizerIsRefused()
    {
        EditTokenizer(j => j["pre_tokenizer"] = JsonNode.Parse("""{"type": "Metaspace"}"""));
        Refused("tokenizer.json", "pre-tokenizer \"Metaspace\"");
    }

    [Fact]
    public void UncompilableSplitRegexIsRefused()
    {
        EditTokenizer(j => j["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "([a-z");
        Refused("tokenizer.json", "does not compile");
    }

    [Fact]
    public void NonByteLevelDecoderIsRefused()
    {
        EditTokenizer(j => j["decoder"] = JsonNode.Parse("""{"type": "WordPiece"}"""));
        Refused("tokenizer.json", "decoder \"WordPiece\"");
    }

    [Fact]
    public void UnsupportedPostProcessorIsRefused()
    {
        EditTokenizer(j => j["post_processor"] = JsonNode.Parse("""{"type": "BertProcessing"}"""));
        Refused("tokenizer.json", "BertProcessing");
    }

    [Fact]
    public void AddedTokenWithoutContentIsRefused()
    {
        EditTokenizer(j => j["added_tokens"]![0]!.AsObject().Remove("content"));
        Refused("tokenizer.json", "added token #0");
    }

    [Fact]
    public void EosTokenThatIsNoTokenIsRefused()
    {
        TestTokenizerFiles.Edit(_dir.Path, "tokenizer_config.json", j => j["eos_token"] = "<|nope|>");
        Refused("tokenizer_config.json", "<|nope|>");
    }

    [Fact]
    public void ChatTemplateOfTheWrongKindIsRefused()
    {
        TestTokenizerFiles.Edit(_dir.Path, "tokenizer_config.json", j => j["chat_template"] = 3);
        Refused("tokenizer_config.json", "chat_template");
    }
}
