using System.Text.Json;
using Rollout.Bench.SpecDecode;
using Rollout.TestSupport;

namespace Rollout.Bench.Tests.SpecDecode;

/// <summary>
/// bench specdecode's quick mode runs end to end (the copy model trained a few dozen steps, the stories260K
/// workload on the real model) and writes the figures its issue names. Speed and copying are not asserted here
/// (the benchmark measures them); only that every figure is there and positive.
/// </summary>
public sealed class SpecDecodeBenchmarkTests
{
    static readonly string[] Figures =
    [
        "copy_b1_speedup", "copy_b16_speedup", "plain_b1_speedup", "plain_b16_speedup", "acceptance_rate", "mean_accepted_length",
        "copy_b1_plain_tps", "copy_b1_spec_tps", "copy_b16_plain_tps", "copy_b16_spec_tps",
        "plain_b1_plain_tps", "plain_b1_spec_tps", "plain_b16_plain_tps", "plain_b16_spec_tps", "greedy_identical_fraction",
        "copy_train_steps", "copy_train_seconds", "copy_train_heldout_accuracy",
    ];

    [RequiresSharedFixtureFact("stories260K")]
    public void Quick_run_writes_every_figure()
    {
        string model = Path.Combine(TestPaths.SharedFixtures, "stories260K", "stories260K-f32.gguf");
        string file = Path.Combine(TinyModels.TempFolder(), "specdecode.json");

        BenchJson.Write(file, SpecDecodeBenchmark.Run(SpecDecodeSettings.Quick, model, new StringWriter()));

        var json = JsonDocument.Parse(File.ReadAllText(file)).RootElement;
        Assert.StartsWith("copy-task-trained", json.GetProperty("copy_model").GetString());
        Assert.Equal("stories260K", json.GetProperty("stories_model").GetString());
        foreach (string key in Figures.Concat(["stories_b1_speedup", "stories_b16_speedup", "stories_b1_plain_tps", "stories_b16_spec_tps"]))
        {
            Assert.True(json.TryGetProperty(key, out var value), $"{key} missing");
            double figure = value.GetDouble();
            Assert.True(double.IsFinite(figure) && figure > 0, $"{key} is {figure}");
        }
    }
}
