using Rollout.Client;

namespace Rollout.Rewards;

/// <summary>
/// What a reward function sees of one completion: the tokens in and out, the completion's text where
/// the client decoded it, and the reference the caller gave for its prompt.
/// </summary>
/// <param name="PromptTokenIds">The prompt's token ids.</param>
/// <param name="CompletionTokenIds">The generated token ids.</param>
/// <param name="CompletionText">The completion's text; null where the client has no tokenizer.</param>
/// <param name="Reference">
/// What the caller gave for this completion's prompt to check against: a reference answer, test cases
/// as JSON, and so on; null where none was given.
/// </param>
public sealed record RewardInput(
    IReadOnlyList<int> PromptTokenIds, IReadOnlyList<int> CompletionTokenIds, string? CompletionText = null, string? Reference = null)
{
    internal static RewardInput Of(Trajectory trajectory, string? reference) =>
        new(trajectory.PromptTokenIds, trajectory.CompletionTokenIds, trajectory.Text, reference);
}
