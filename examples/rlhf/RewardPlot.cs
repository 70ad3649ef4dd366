using ScottPlot;

namespace Rollout.Examples.Rlhf;

/// <summary>The PNG of a run: mean reward per step and held-out accuracy where it was measured.</summary>
internal static class RewardPlot
{
    public static void Save(IReadOnlyList<StepRecord> records, double initialAccuracy, string path)
    {
        var plot = new Plot();
        var reward = plot.Add.Scatter(records.Select(r => (double)r.Step).ToArray(), records.Select(r => r.Reward).ToArray());
        reward.LegendText = "mean reward";
        reward.MarkerSize = 0;
        var measured = records.Where(r => r.HeldOutAccuracy is not null).ToList();
        var accuracy = plot.Add.Scatter(measured.Select(r => (double)r.Step).Prepend(0).ToArray(),
            measured.Select(r => r.HeldOutAccuracy!.Value).Prepend(initialAccuracy).ToArray());
        accuracy.LegendText = "held-out accuracy";
        plot.Axes.SetLimitsY(0, 1);
        plot.XLabel("GRPO step");
        plot.Title("GRPO on addition");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }
}
