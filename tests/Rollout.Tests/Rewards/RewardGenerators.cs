using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Client;

namespace Rollout.Tests.Rewards;

/// <summary>Trajectories with their advantages, and the pad id to lay them out with (often a real token's id).</summary>
public sealed record TrajectorySample(Trajectory[] Trajectories, float[] Advantages, int PadTokenId)
{
    public override string ToString() =>
        $"pad {PadTokenId}: " + string.Join(" | ", Trajectories.Select((t, b) =>
            $"[{string.Join(",", t.PromptTokenIds)}] -> [{string.Join(",", t.CompletionTokenIds)}] v[{string.Join(",", t.WeightVersions)}] a {Advantages[b]}"));
}

/// <summary>A pipeline's components as weights and each component's value per item.</summary>
public sealed record WeightedValues(float[] Weights, float[][] Values)
{
    public override string ToString() =>
        string.Join("; ", Weights.Select((w, c) => $"{w} x [{string.Join(",", Values[c])}]"));
}

/// <summary>Runs a property with <see cref="RewardGenerators"/> and a bound that keeps the suite fast.</summary>
public sealed class RewardsPropertyAttribute : PropertyAttribute
{
    public RewardsPropertyAttribute()
    {
        Arbitrary = [typeof(RewardGenerators)];
        MaxTest = 100;
    }
}

public static class RewardGenerators
{
    /// <summary>A trajectory with a one-token prompt or longer, and a completion from empty up.</summary>
    static Gen<Trajectory> Trajectory =>
        from promptLength in Gen.Choose(1, 5)
        from completionLength in Gen.Choose(0, 6)
        from prompt in Gen.Choose(0, 9).ArrayOf(promptLength)
        from completion in Gen.Choose(0, 9).ArrayOf(completionLength)
        from logprobs in Gen.Choose(-20_000, 0).Select(x => x / 1000f).ArrayOf(completionLength)
        from versions in Gen.Choose(0, 3).Select(v => (long)v).ArrayOf(completionLength)
        select Make(prompt, completion, logprobs, versions);

    public static Arbitrary<TrajectorySample> TrajectorySamples() =>
        (from count in Gen.Choose(1, 6)
         from trajectories in Trajectory.ArrayOf(count)
         from advantages in Gen.Choose(-3000, 3000).Select(x => x / 1000f).ArrayOf(count)
         from pad in Gen.Choose(0, 12)
         select new TrajectorySample(trajectories, advantages, pad)).ToArbitrary();

    public static Arbitrary<WeightedValues> WeightedValues() =>
        (from components in Gen.Choose(1, 4)
         from items in Gen.Choose(1, 8)
         from weights in Gen.Choose(-2000, 2000).Select(x => x / 100f).ArrayOf(components)
         from values in Gen.Choose(-1000, 1000).Select(x => x / 100f).ArrayOf(items).ArrayOf(components)
         select new WeightedValues(weights, values)).ToArbitrary();

    public static Trajectory Make(int[] prompt, int[] completion, float[]? logprobs = null, long[]? versions = null, string? text = null) => new()
    {
        PromptIndex = 0,
        Index = 0,
        PromptTokenIds = prompt,
        CompletionTokenIds = completion,
        Logprobs = logprobs ?? new float[completion.Length],
        WeightVersions = versions ?? new long[completion.Length],
        Text = text,
    };
}
