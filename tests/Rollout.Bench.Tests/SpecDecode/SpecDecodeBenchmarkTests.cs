using System.Text.Json;
using Rollout.Bench.SpecDecode;
using Rollout.TestSupport;

namespace Rollout.Bench.Tests.SpecDecode;

/// <summary>
/// bench specdecode's quick mode runs end to end on the real stories260K model and writes the figures its issue
/// names. Speed is not asserted here (the benchmark measures it); only that every figure is there and positive.
/// </summary>
public sealed class SpecDecodeBenchmarkTests
{
    [RequiresSharedFixtureFact("stories260K")]
    public void Quick_run_writes_every_figure()
    {
        string model = Path.Combine(TestPaths.SharedFixtures, "stories260K", "stories260K-f32.gguf");
        string file = Path.Combine(TinyModels.TempFolder(), "specdecode.json");

        BenchJson.Write(file, SpecDecodeBenchmark.Run(SpecDecodeSettings.Quick, model, new StringWriter()));

        var json = JsonDocument.Parse(File.ReadAllText(file)).RootElement;
        Assert.Equal("stories260K", json.GetProperty("copy_model").GetString());
        foreach (string key in new[]
                 {
                     "copy_b1_speedup", "copy_b16_speedup", "plain_b1_speedup", "plain_b16_speedup", "acceptance_rate", "mean_accepted_length",
                     "copy_b1_plain_tps", "copy_b1_spec_tps", "copy_b16_plain_tps", "copy_b16_spec_tps",
                     "plain_b1_plain_tps", "plain_b1_spec_tps", "plain_b16_plain_tps", "plain_b16_spec_tps", "greedy_identical_fraction",
                 })
        {
            Assert.True(json.TryGetProperty(key, out var value), $"{key} missing");
            double figure = value.GetDouble();
            Assert.True(double.IsFinite(figure) && figure > 0, $"{key} is {figure}");
        }
    }
}
