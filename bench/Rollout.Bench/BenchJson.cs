using System.Text.Json;

namespace Rollout.Bench;

/// <summary>Writes a benchmark's figures as the JSON file <c>--json</c> asks for.</summary>
internal static class BenchJson
{
    public static void Write(string path, IReadOnlyDictionary<string, object> figures) =>
        File.WriteAllText(path, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
}
