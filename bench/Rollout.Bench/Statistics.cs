namespace Rollout.Bench;

/// <summary>Summaries of repeated measurements the benchmarks share.</summary>
internal static class Statistics
{
    /// <summary>The middle value, or the mean of the two middle ones.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
