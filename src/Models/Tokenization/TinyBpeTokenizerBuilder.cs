using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Rollout.Models.Tokenization;

/// <summary>
/// Writes a small but real Hugging Face byte-level BPE tokenizer (<c>tokenizer.json</c>,
/// <c>tokenizer_config.json</c> with a ChatML template), trained deterministically on an embedded English
/// corpus, so that tiny test models get a genuine tokenizer without downloading one. Its layout follows
/// Qwen's: the 256 byte tokens, the learned merges, then <c>&lt;|endoftext|&gt;</c>,
/// <c>&lt;|im_start|&gt;</c> and <c>&lt;|im_end|&gt;</c> as the last three ids.
/// </summary>
public static class TinyBpeTokenizerBuilder
{
    const string SplitPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    static readonly string[] SpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    const string ChatTemplate = """
        {%- for message in messages %}
            {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\n' }}
        {%- endif %}
        """;

    /// <summary>
    /// Trains the tokenizer and writes its two files into <paramref name="directory"/> (created if needed).
    /// </summary>
    /// <param name="directory">Where <c>tokenizer.json</c> and <c>tokenizer_config.json</c> go.</param>
    /// <param name="vocabSize">Exact number of ids: 256 bytes + merges + 3 special tokens.</param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="vocabSize"/> is below 259, or above what the embedded corpus can fill with merges.
    /// </exception>
    public static void Write(string directory, int vocabSize = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 256 + SpecialTokens.Length);
        var merges = Train(vocabSize - 256 - SpecialTokens.Length);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "tokenizer.json"), TokenizerJson(merges));
        File.WriteAllBytes(Path.Combine(directory, "tokenizer_config.json"), ConfigJson());
    }

    /// <summary>
    /// Classic pair-merge training: repeatedly merge the most frequent adjacent pair (ties broken by
    /// ordinal order, so the result never varies). Pairs whose concatenation is already a token are
    /// passed over, which keeps the vocabulary size exact.
    /// </summary>
    static List<(string Left, string Right)> Train(int mergeCount)
    {
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        string corpus = TinyBpeCorpus.Text.ReplaceLineEndings("\n");
        foreach (string section in corpus.Split(SpecialTokens, StringSplitOptions.None))
        {
            foreach (Match m in Regex.Matches(section, SplitPattern, RegexOptions.CultureInvariant))
            {
                string word = ByteLevelAlphabet.Encode(m.Value);
                wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;
            }
        }
        var words = wordCounts.OrderBy(w => w.Key, StringComparer.Ordinal)
            .Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), Count: w.Value))
            .ToList();
        var tokens = new HashSet<string>(Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.Char((byte)b).ToString()), StringComparer.Ordinal);
        var merges = new List<(string, string)>(mergeCount);
        while (merges.Count < mergeCount)
        {
            var pairCounts = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    if (!tokens.Contains(pair.Item1 + pair.Item2)) pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
                }
            }
            if (pairCounts.Count == 0)
                throw new ArgumentOutOfRangeException(nameof(mergeCount), $"the embedded corpus yields only {merges.Count} merges, so the vocabulary cannot reach {256 + mergeCount + SpecialTokens.Length}");
            var best = pairCounts
                .OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            tokens.Add(best.Item1 + best.Item2);
            foreach (var (symbols, _) in words) MergeInPlace(symbols, best);
        }
        return merges;
    }

    static void MergeInPlace(List<string> symbols, (string Left, string Right) pair)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == pair.Left && symbols[i + 1] == pair.Right)
            {
                symbols[i] = pair.Left + pair.Right;
                symbols.RemoveAt(i + 1);
            }
        }
    }

    static byte[] TokenizerJson(List<(string Left, string Right)> merges)
    {
        return WriteJson(w =>
        {
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < SpecialTokens.Length; i++) WriteAddedToken(w, 256 + merges.Count + i, SpecialTokens[i]);
            w.WriteEndArray();

            w.WriteStartObject("normalizer");
            w.WriteString("type", "NFC");
            w.WriteEndObject();

            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", SplitPattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            WriteByteLevel(w, null);
            w.WriteEndArray();
            w.WriteEndObject();

            WriteByteLevel(w, "post_processor");
            WriteByteLevel(w, "decoder");

            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteString("continuing_subword_prefix", "");
            w.WriteString("end_of_word_suffix", "");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (int b = 0; b < 256; b++) w.WriteNumber(ByteLevelAlphabet.Char((byte)b).ToString(), b);
            for (int i = 0; i < merges.Count; i++) w.WriteNumber(merges[i].Left + merges[i].Right, 256 + i);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (left, right) in merges)
            {
                w.WriteStartArray();
                w.WriteStringValue(left);
                w.WriteStringValue(right);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    static void WriteByteLevel(Utf8JsonWriter w, string? property)
    {
        if (property is null) w.WriteStartObject();
        else w.WriteStartObject(property);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", false);
        w.WriteBoolean("use_regex", false);
        w.WriteEndObject();
    }

    static void WriteAddedToken(Utf8JsonWriter w, int id, string content)
    {
        w.WriteStartObject();
        w.WriteNumber("id", id);
        w.WriteString("content", content);
        w.WriteBoolean("single_word", false);
        w.WriteBoolean("lstrip", false);
        w.WriteBoolean("rstrip", false);
        w.WriteBoolean("normalized", false);
        w.WriteBoolean("special", true);
        w.WriteEndObject();
    }

    static byte[] ConfigJson()
    {
        return WriteJson(w =>
        {
            w.WriteBoolean("add_bos_token", false);
            w.WriteBoolean("add_prefix_space", false);
            w.WriteNull("bos_token");
            w.WriteString("eos_token", "<|im_end|>");
            w.WriteString("pad_token", "<|endoftext|>");
            w.WriteNull("unk_token");
            w.WriteString("chat_template", ChatTemplate);
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteString("errors", "replace");
            w.WriteNumber("model_max_length", 32768);
            w.WriteBoolean("split_special_tokens", false);
            w.WriteString("tokenizer_class", "Qwen2Tokenizer");
        });
    }

    static byte[] WriteJson(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps the byte-level spellings (Ġ, Ċ) readable, as in files from the hub.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
