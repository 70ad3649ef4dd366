namespace Rollout.Client.Runs;

/// <summary>
/// A group about to run: its prompt and n, and, when it resumes, its n trajectories so far (the finished
/// ones are kept, the unfinished ones continued).
/// </summary>
internal sealed record PendingGroup(int PromptIndex, IReadOnlyList<int> Prompt, int N, IReadOnlyList<Trajectory>? SoFar = null)
{
    /// <summary>A group that resumes <paramref name="group"/>: a slot for every completion index up to its last (the staleness rule may have dropped some).</summary>
    public static PendingGroup Resuming(TrajectoryGroup group) =>
        new(group.PromptIndex, group.PromptTokenIds, group.Trajectories.Select(t => t.Index + 1).DefaultIfEmpty(0).Max(), [.. group.Trajectories]);
}
