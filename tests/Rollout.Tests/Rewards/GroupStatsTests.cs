using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Rewards;

namespace Rollout.Tests.Rewards;

public class GroupStatsTests
{
    static Arbitrary<float[]> Rewards() =>
        Gen.Choose(1, 12).SelectMany(n => Gen.Elements(0f, 0.5f, 1f, 2f, -1f).ArrayOf(n)).ToArbitrary();

    [Property(MaxTest = 200)]
    public Property Stats_bound_the_rewards_and_count_the_solved_ones() => Prop.ForAll(Rewards(), rewards =>
    {
        var stats = GroupStats.Of(rewards, solvedThreshold: 1f)!;
        Assert.Equal(rewards.Length, stats.Count);
        Assert.Equal((rewards.Min(), rewards.Max()), (stats.Min, stats.Max));
        Assert.InRange(stats.Mean, stats.Min - 1e-6, stats.Max + 1e-6);
        Assert.Equal(rewards.Count(r => r >= 1f) / (double)rewards.Length, stats.FractionSolved, 1e-12);
        // The deviation is the one GRPO divides by: a group's GRPO advantages have unit sample deviation.
        if (stats.Std > 0)
        {
            var a = GroupAdvantages.Grpo(rewards, epsilon: 0);
            Assert.Equal((rewards[0] - stats.Mean) / stats.Std, a[0], 1e-4);
        }
        else Assert.All(rewards, r => Assert.Equal(stats.Mean, r, 1e-6));
    });

    [Fact]
    public void No_rewards_have_no_stats_and_one_has_no_spread()
    {
        Assert.Null(GroupStats.Of([], 1f));
        Assert.Equal(new GroupStats(1, 2, 0, 2, 2, 1), GroupStats.Of([2f], 1f));
    }
}
