using System.Text.Json;

namespace Rollout.Models.Configuration;

/// <summary>A model's <c>generation_config.json</c>: its stop ids and default sampling settings.</summary>
public sealed record GenerationConfig
{
    /// <summary>Ids that end generation.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>BOS id, if stated.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>PAD id, if stated.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>Default temperature.</summary>
    public double? Temperature { get; init; }
    /// <summary>Default nucleus threshold.</summary>
    public double? TopP { get; init; }
    /// <summary>Default top-k.</summary>
    public int? TopK { get; init; }
    /// <summary>Default number of new tokens.</summary>
    public int? MaxNewTokens { get; init; }
    /// <summary>Whether the model's authors sample by default (false means greedy).</summary>
    public bool? DoSample { get; init; }
    /// <summary>Default repetition penalty.</summary>
    public double? RepetitionPenalty { get; init; }

    /// <summary>Reads <paramref name="path"/>, or returns an empty config when it does not exist.</summary>
    /// <exception cref="ModelConfigException">The file exists but is malformed.</exception>
    public static GenerationConfig Load(string path)
    {
        if (!File.Exists(path)) return new GenerationConfig();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var j = doc.RootElement;
            if (j.ValueKind != JsonValueKind.Object) throw new ModelConfigException("the top level must be a JSON object");
            return new GenerationConfig
            {
                EosTokenIds = HfConfigParser.IntList(j, "eos_token_id"),
                BosTokenId = HfConfigParser.Int(j, "bos_token_id"),
                PadTokenId = HfConfigParser.Int(j, "pad_token_id"),
                Temperature = HfConfigParser.Double(j, "temperature"),
                TopP = HfConfigParser.Double(j, "top_p"),
                TopK = HfConfigParser.Int(j, "top_k"),
                MaxNewTokens = HfConfigParser.Int(j, "max_new_tokens"),
                DoSample = HfConfigParser.Bool(j, "do_sample"),
                RepetitionPenalty = HfConfigParser.Double(j, "repetition_penalty"),
            };
        }
        catch (Exception e) when (e is JsonException or ModelConfigException)
        {
            throw new ModelConfigException($"{path}: {e.Message}", e);
        }
    }
}
