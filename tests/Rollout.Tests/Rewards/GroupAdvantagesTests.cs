using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Rewards;

namespace Rollout.Tests.Rewards;

public class GroupAdvantagesTests
{
    static Arbitrary<float[]> Groups() =>
        Gen.Choose(2, 16).SelectMany(n => Gen.Choose(-1000, 1000).Select(v => v / 100f).ArrayOf(n)).ToArbitrary();

    [Property(MaxTest = 300)]
    public Property Grpo_advantages_have_zero_mean_and_unit_sample_deviation_unless_the_group_is_flat() => Prop.ForAll(Groups(), rewards =>
    {
        var a = GroupAdvantages.Grpo(rewards, epsilon: 0);
        Assert.Equal(rewards.Length, a.Length);
        if (rewards.Distinct().Count() == 1)
        {
            Assert.All(a, x => Assert.Equal(0f, x));
            return;
        }
        double mean = a.Average(x => (double)x);
        double std = Math.Sqrt(a.Sum(x => (x - mean) * (x - mean)) / (a.Length - 1));
        Assert.InRange(mean, -1e-4, 1e-4);
        Assert.InRange(std, 1 - 1e-3, 1 + 1e-3);
        // The order of rewards is the order of advantages.
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < a.Length; j++)
                if (rewards[i] > rewards[j]) Assert.True(a[i] > a[j]);
    });

    [Property(MaxTest = 300)]
    public Property Rloo_and_dr_grpo_sum_to_zero_and_differ_by_the_factor_n_over_n_minus_one() => Prop.ForAll(Groups(), rewards =>
    {
        var rloo = GroupAdvantages.Rloo(rewards);
        var dr = GroupAdvantages.DrGrpo(rewards);
        int n = rewards.Length;
        Assert.InRange(rloo.Sum(x => (double)x), -1e-3, 1e-3);
        Assert.InRange(dr.Sum(x => (double)x), -1e-3, 1e-3);
        // r_i - mean(others) = n / (n - 1) * (r_i - mean).
        for (int i = 0; i < n; i++) Assert.Equal(dr[i] * n / (n - 1), rloo[i], 1e-3f);
    });

    [Fact]
    public void A_known_group_gives_the_textbook_values()
    {
        float[] rewards = [1, 0, 0, 1];
        Assert.Equal([0.5f, -0.5f, -0.5f, 0.5f], GroupAdvantages.DrGrpo(rewards));
        Assert.Equal([2 / 3f, -2 / 3f, -2 / 3f, 2 / 3f], GroupAdvantages.Rloo(rewards));
        // Sample std of {1, 0, 0, 1} is sqrt(1/3).
        var grpo = GroupAdvantages.Grpo(rewards, epsilon: 0);
        Assert.Equal(0.5f / MathF.Sqrt(1 / 3f), grpo[0], 1e-5f);
    }

    [Fact]
    public void A_group_of_one_gets_zero_and_a_non_finite_reward_is_refused()
    {
        Assert.Equal([0f], GroupAdvantages.Grpo([3f]));
        Assert.Equal([0f], GroupAdvantages.Rloo([3f]));
        Assert.Throws<ArgumentException>(() => GroupAdvantages.Grpo([1f, float.NaN]));
    }

    [Fact]
    public void Compute_applies_the_named_method()
    {
        float[] rewards = [1, 0, 0, 1];
        Assert.Equal(GroupAdvantages.Grpo(rewards), GroupAdvantages.Compute(AdvantageMethod.Grpo, rewards));
        Assert.Equal(GroupAdvantages.DrGrpo(rewards), GroupAdvantages.Compute(AdvantageMethod.DrGrpo, rewards));
        Assert.Equal(GroupAdvantages.Rloo(rewards), GroupAdvantages.Compute(AdvantageMethod.Rloo, rewards));
    }
}
