using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Rollout.Models.Tokenization;

/// <summary>A token from <c>added_tokens</c>: matched whole in text before any splitting, never merged.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>
/// What <c>tokenizer.json</c> and <c>tokenizer_config.json</c> say, reduced to the parts a byte-level BPE
/// pipeline uses. Parsing refuses every component it cannot reproduce exactly, so a loaded tokenizer
/// either matches Hugging Face or does not load.
/// </summary>
internal sealed record HfTokenizerDefinition
{
    /// <summary>GPT-2's split, which a ByteLevel pre-tokenizer applies when its use_regex is on.</summary>
    internal const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public required Dictionary<string, int> Vocab { get; init; }
    public required List<string> Merges { get; init; }
    public required bool IgnoreMerges { get; init; }
    public required List<AddedToken> AddedTokens { get; init; }
    public required NormalizationForm? Normalization { get; init; }
    public required List<Regex> Splits { get; init; }
    public required List<int> Prefix { get; init; }
    public required List<int> Suffix { get; init; }
    public required int? BosTokenId { get; init; }
    public required int? EosTokenId { get; init; }
    public required string? ChatTemplate { get; init; }

    /// <summary>Reads a model directory's tokenizer files; errors name the file at fault.</summary>
    public static HfTokenizerDefinition Load(string modelDirectory)
    {
        string tokenizerPath = Path.Combine(modelDirectory, "tokenizer.json");
        string configPath = Path.Combine(modelDirectory, "tokenizer_config.json");
        if (!File.Exists(tokenizerPath)) throw new FileNotFoundException($"tokenizer.json not found in {modelDirectory}", tokenizerPath);

        using var tokenizer = ParseFile(tokenizerPath);
        using var config = File.Exists(configPath) ? ParseFile(configPath) : JsonDocument.Parse("{}");
        var pipeline = Fail.Wrap(tokenizerPath, () => ReadPipeline(tokenizer.RootElement));
        return Fail.Wrap(configPath, () => ApplyConfig(pipeline, config.RootElement, modelDirectory));
    }

    static JsonDocument ParseFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var doc = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new TokenizerFormatException($"{path}: the top level must be a JSON object");
            }
            return doc;
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    static HfTokenizerDefinition ReadPipeline(JsonElement root)
    {
        var model = Fail.Object(root, "model") ?? throw Fail.Because("no \"model\" object");
        var (vocab, merges, ignoreMerges) = ReadBpeModel(model);
        var added = ReadAddedTokens(root);
        RequireByteLevelDecoder(Fail.Object(root, "decoder"));
        var splits = new List<Regex>();
        if (Fail.Object(root, "pre_tokenizer") is { } pre) ReadPreTokenizer(pre, splits);
        var prefix = new List<int>();
        var suffix = new List<int>();
        if (Fail.Object(root, "post_processor") is { } post) ReadPostProcessor(post, prefix, suffix);
        return new HfTokenizerDefinition
        {
            Vocab = vocab,
            Merges = merges,
            IgnoreMerges = ignoreMerges,
            AddedTokens = added,
            Normalization = Fail.Object(root, "normalizer") is { } n ? ReadNormalizer(n) : null,
            Splits = splits,
            Prefix = prefix,
            Suffix = suffix,
            BosTokenId = null,
            EosTokenId = null,
            ChatTemplate = null,
        };
    }

    static (Dictionary<string, int>, List<string>, bool) ReadBpeModel(JsonElement model)
    {
        string type = Fail.String(model, "type") ?? "BPE";
        if (type != "BPE") throw Fail.Because($"model type \"{type}\" is not supported (only byte-level BPE)");
        if (Fail.Bool(model, "byte_fallback") == true) throw Fail.Because("BPE byte_fallback is not supported (it belongs to SentencePiece-style vocabularies)");
        if (Fail.String(model, "continuing_subword_prefix") is { Length: > 0 } || Fail.String(model, "end_of_word_suffix") is { Length: > 0 })
            throw Fail.Because("BPE continuing_subword_prefix/end_of_word_suffix are not supported");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
            throw Fail.Because("BPE dropout is not supported (it makes encoding random)");

        var vocabJson = Fail.Object(model, "vocab") ?? throw Fail.Because("model has no \"vocab\" object");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw Fail.Because($"vocab entry \"{entry.Name}\" must map to a non-negative integer id");
            vocab[entry.Name] = id;
        }

        if (!model.TryGetProperty("merges", out var mergesJson) || mergesJson.ValueKind != JsonValueKind.Array)
            throw Fail.Because("model has no \"merges\" array");
        var merges = new List<string>(mergesJson.GetArrayLength());
        foreach (var merge in mergesJson.EnumerateArray())
        {
            // Older files write "a b"; newer ones ["a", "b"]. Byte-level tokens never hold a space,
            // so the string form is unambiguous and is what Microsoft.ML.Tokenizers reads.
            string? text = merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString(),
                JsonValueKind.Array when merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String
                    => $"{merge[0].GetString()} {merge[1].GetString()}",
                _ => null,
            };
            if (text is null || text.Split(' ').Length != 2) throw Fail.Because($"merge #{merges.Count} must be \"a b\" or [\"a\", \"b\"]");
            merges.Add(text);
        }
        return (vocab, merges, Fail.Bool(model, "ignore_merges") ?? false);
    }

    static List<AddedToken> ReadAddedTokens(JsonElement root)
    {
        var tokens = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return tokens;
        if (list.ValueKind != JsonValueKind.Array) throw Fail.Because("\"added_tokens\" must be an array");
        foreach (var token in list.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out var idJson) || !idJson.TryGetInt32(out int id) || id < 0
                || Fail.String(token, "content") is not { Length: > 0 } content)
                throw Fail.Because($"added token #{tokens.Count} needs a non-negative \"id\" and a non-empty \"content\"");
            foreach (string flag in (string[])["lstrip", "rstrip", "single_word"])
            {
                if (Fail.Bool(token, flag) == true) throw Fail.Because($"added token \"{content}\" sets {flag}, which is not supported");
            }
            tokens.Add(new AddedToken(id, content, Fail.Bool(token, "special") ?? false));
        }
        return tokens;
    }

    static NormalizationForm? ReadNormalizer(JsonElement normalizer) => Fail.String(normalizer, "type") switch
    {
        "NFC" => NormalizationForm.FormC,
        "NFD" => NormalizationForm.FormD,
        "NFKC" => NormalizationForm.FormKC,
        "NFKD" => NormalizationForm.FormKD,
        var other => throw Fail.Because($"normalizer \"{other}\" is not supported (only null, NFC, NFD, NFKC, NFKD)"),
    };

    static void ReadPreTokenizer(JsonElement pre, List<Regex> splits)
    {
        switch (Fail.String(pre, "type"))
        {
            case "Sequence":
                if (!pre.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw Fail.Because("Sequence pre-tokenizer has no \"pretokenizers\" array");
                foreach (var item in list.EnumerateArray()) ReadPreTokenizer(item, splits);
                break;
            case "Split":
                if (Fail.String(pre, "behavior") is var behavior && behavior != "Isolated")
                    throw Fail.Because($"Split behavior \"{behavior}\" is not supported (only Isolated)");
                if (Fail.Bool(pre, "invert") == true) throw Fail.Because("an inverted Split is not supported");
                var pattern = Fail.Object(pre, "pattern") ?? throw Fail.Because("Split has no \"pattern\"");
                string regex = Fail.String(pattern, "Regex")
                    ?? (Fail.String(pattern, "String") is { } literal ? Regex.Escape(literal) : throw Fail.Because("Split pattern needs \"Regex\" or \"String\""));
                splits.Add(Compile(regex));
                break;
            case "ByteLevel":
                // The byte mapping itself happens inside the BPE model; only the optional split is ours.
                if (Fail.Bool(pre, "add_prefix_space") == true) throw Fail.Because("ByteLevel add_prefix_space is not supported");
                if (Fail.Bool(pre, "use_regex") ?? true) splits.Add(Compile(Gpt2SplitPattern));
                break;
            case var other:
                throw Fail.Because($"pre-tokenizer \"{other}\" is not supported (only Sequence, Split, ByteLevel)");
        }
    }

    static Regex Compile(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw Fail.Because($"Split regex /{pattern}/ does not compile in .NET ({e.Message})", e);
        }
    }

    static void RequireByteLevelDecoder(JsonElement? decoder)
    {
        string? type = decoder is { } d ? Fail.String(d, "type") : null;
        if (type != "ByteLevel") throw Fail.Because($"decoder \"{type ?? "null"}\" is not supported (only ByteLevel)");
    }

    static void ReadPostProcessor(JsonElement post, List<int> prefix, List<int> suffix)
    {
        switch (Fail.String(post, "type"))
        {
            case "ByteLevel":
                break; // only trims offsets, which we do not report
            case "Sequence":
                if (!post.TryGetProperty("processors", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw Fail.Because("Sequence post-processor has no \"processors\" array");
                foreach (var item in list.EnumerateArray()) ReadPostProcessor(item, prefix, suffix);
                break;
            case "TemplateProcessing":
                ReadTemplate(post, prefix, suffix);
                break;
            case var other:
                throw Fail.Because($"post-processor \"{other}\" is not supported (only ByteLevel, TemplateProcessing, Sequence)");
        }
    }

    static void ReadTemplate(JsonElement template, List<int> prefix, List<int> suffix)
    {
        if (!template.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
            throw Fail.Because("TemplateProcessing has no \"single\" array");
        var specials = Fail.Object(template, "special_tokens");
        bool afterSequence = false;
        foreach (var item in single.EnumerateArray())
        {
            if (Fail.Object(item, "Sequence") is not null)
            {
                afterSequence = true;
                continue;
            }
            string name = (Fail.Object(item, "SpecialToken") is { } special ? Fail.String(special, "id") : null)
                ?? throw Fail.Because("TemplateProcessing items must be SpecialToken or Sequence");
            if (specials is not { } map || Fail.Object(map, name) is not { } entry
                || !entry.TryGetProperty("ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
                throw Fail.Because($"TemplateProcessing special token \"{name}\" has no ids in \"special_tokens\"");
            foreach (var id in ids.EnumerateArray()) (afterSequence ? suffix : prefix).Add(id.GetInt32());
        }
    }

    static HfTokenizerDefinition ApplyConfig(HfTokenizerDefinition pipeline, JsonElement config, string modelDirectory)
    {
        int? bos = TokenId(pipeline, config, "bos_token");
        int? eos = TokenId(pipeline, config, "eos_token");
        var prefix = new List<int>(pipeline.Prefix);
        var suffix = new List<int>(pipeline.Suffix);
        // tokenizer_config's flags win over the post-processor, as in transformers' Llama tokenizers.
        ApplyFlag(Fail.Bool(config, "add_bos_token"), bos, "add_bos_token", "bos_token", prefix, atStart: true);
        ApplyFlag(Fail.Bool(config, "add_eos_token"), eos, "add_eos_token", "eos_token", suffix, atStart: false);
        return pipeline with
        {
            Prefix = prefix,
            Suffix = suffix,
            BosTokenId = bos,
            EosTokenId = eos,
            ChatTemplate = ChatTemplateOf(config, modelDirectory),
        };
    }

    static void ApplyFlag(bool? flag, int? id, string flagName, string tokenName, List<int> ids, bool atStart)
    {
        if (flag is not { } add) return;
        if (id is not { } token)
        {
            if (add) throw Fail.Because($"{flagName} is true but there is no {tokenName}");
            return;
        }
        bool present = ids.Count > 0 && (atStart ? ids[0] : ids[^1]) == token;
        if (add && !present) ids.Insert(atStart ? 0 : ids.Count, token);
        if (!add && present) ids.RemoveAt(atStart ? 0 : ids.Count - 1);
    }

    static int? TokenId(HfTokenizerDefinition pipeline, JsonElement config, string name)
    {
        if (!config.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        string text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Object when Fail.String(value, "content") is { } content => content,
            _ => throw Fail.Because($"\"{name}\" must be a string or an object with \"content\""),
        };
        if (pipeline.AddedTokens.FirstOrDefault(t => t.Content == text) is { } added) return added.Id;
        if (pipeline.Vocab.TryGetValue(text, out int id)) return id;
        throw Fail.Because($"\"{name}\" is \"{text}\", which is not a token of tokenizer.json");
    }

    static string? ChatTemplateOf(JsonElement config, string modelDirectory)
    {
        if (config.TryGetProperty("chat_template", out var template))
        {
            switch (template.ValueKind)
            {
                case JsonValueKind.String:
                    return template.GetString();
                case JsonValueKind.Array:
                    foreach (var named in template.EnumerateArray())
                    {
                        if (named.ValueKind == JsonValueKind.Object && Fail.String(named, "name") == "default")
                            return Fail.String(named, "template") ?? throw Fail.Because("the \"default\" chat template has no \"template\" string");
                    }
                    throw Fail.Because("\"chat_template\" lists named templates but none is \"default\"");
                case not JsonValueKind.Null:
                    throw Fail.Because("\"chat_template\" must be a string or a list of {name, template}");
            }
        }
        // transformers 4.43+ saves the template beside the config instead of inside it.
        string file = Path.Combine(modelDirectory, "chat_template.jinja");
        return File.Exists(file) ? File.ReadAllText(file) : null;
    }

    /// <summary>Small typed readers that turn a wrong JSON kind into a <see cref="TokenizerFormatException"/>.</summary>
    static class Fail
    {
        public static TokenizerFormatException Because(string problem, Exception? inner = null) => new(problem, inner);

        public static T Wrap<T>(string path, Func<T> read)
        {
            try
            {
                return read();
            }
            catch (TokenizerFormatException e)
            {
                throw new TokenizerFormatException($"{path}: {e.Message}", e);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new TokenizerFormatException($"{path}: unexpected JSON value ({e.Message})", e);
            }
        }

        public static JsonElement? Object(JsonElement parent, string name) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) ? value.ValueKind switch
            {
                JsonValueKind.Object => value,
                JsonValueKind.Null => null,
                _ => throw Because($"\"{name}\" must be an object"),
            } : null;

        public static string? String(JsonElement parent, string name) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Null => null,
                _ => throw Because($"\"{name}\" must be a string"),
            } : null;

        public static bool? Bool(JsonElement parent, string name) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) ? value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Null => null,
                _ => throw Because($"\"{name}\" must be true or false"),
            } : null;
    }
}
