namespace Rollout.Rewards;

/// <summary>One named term of a pipeline's reward: a function, and the weight its value carries in the total.</summary>
/// <param name="Name">Names the component in outcomes and failures; distinct within a pipeline.</param>
/// <param name="Function">What computes the component's values.</param>
/// <param name="Weight">The total adds the component's value times this weight.</param>
public sealed record RewardComponent(string Name, IRewardFunction Function, float Weight = 1f);
