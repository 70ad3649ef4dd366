using Rollout.Client.Runs;
using Rollout.Engine.Sampling;

namespace Rollout.Client;

/// <summary>
/// Partial rollouts across training steps: each <see cref="StepAsync"/> generates until its
/// <see cref="EarlyStop"/> fires, returns the groups that finished, and keeps the rest, their completions
/// aborted with their tokens, to continue in the next step. A continued completion goes on from its prompt
/// and tokens so far (the new prompt), for what is left of <c>max_tokens</c>; its earlier tokens keep their
/// logprobs and weight versions, and the new ones are appended. Not for concurrent use: one step at a time.
/// </summary>
/// <remarks>
/// A continuation sees its earlier tokens as prompt: presence and frequency penalties count only the tokens
/// generated since, and a stop string split across the cut is not matched. Its seed is derived from the
/// call's seed, the completion's index and its length so far.
/// </remarks>
public sealed class PartialRollouts
{
    readonly RolloutClient _client;
    readonly int _n;
    readonly SamplingParams _sampling;
    readonly EarlyStop _stop;
    IReadOnlyList<TrajectoryGroup> _unfinished = [];
    int _nextPromptIndex;

    /// <summary>Steps that sample <paramref name="n"/> completions of every prompt with <paramref name="sampling"/>, each ended by <paramref name="stop"/>.</summary>
    /// <exception cref="InvalidOperationException">The client cannot end requests early (a remote client without the admin token).</exception>
    public PartialRollouts(RolloutClient client, int n, SamplingParams sampling, EarlyStop stop)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(stop);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        stop.Validate();
        client.RequireEarlyStop();
        (_client, _n, _sampling, _stop) = (client, n, sampling, stop);
    }

    /// <summary>The groups started and not finished, carried into the next step; each has its n completions, the unfinished ones with finish reason <c>abort</c>.</summary>
    public IReadOnlyList<TrajectoryGroup> Unfinished => _unfinished;

    /// <summary>
    /// Continues <see cref="Unfinished"/> and starts <paramref name="prompts"/> (which may be empty), stops when
    /// the early stop fires or everything has finished, and returns the groups that finished, by prompt
    /// index. Prompts are numbered in the order they are given, across steps, from 0: a group's
    /// <see cref="TrajectoryGroup.PromptIndex"/> names its prompt whatever step it finishes in. A step that
    /// throws (cancelled, a server error) changes nothing here.
    /// </summary>
    public async Task<IReadOnlyList<TrajectoryGroup>> StepAsync(IReadOnlyList<IReadOnlyList<int>> prompts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        IReadOnlyList<PendingGroup> fresh = prompts.Count == 0 ? [] : _client.Plan(prompts, _n, _sampling, _nextPromptIndex);
        PendingGroup[] groups = [.. _unfinished.Select(PendingGroup.Resuming), .. fresh];
        var finished = new List<TrajectoryGroup>();
        var unfinished = new List<TrajectoryGroup>();
        if (groups.Length > 0)
            await foreach (var group in _client.Run(groups, _sampling, _stop, cancellationToken))
                (group.Trajectories.Any(GroupRequests.IsUnfinished) ? unfinished : finished).Add(group);
        _nextPromptIndex += prompts.Count;
        _unfinished = [.. unfinished.OrderBy(g => g.PromptIndex)];
        return [.. finished.OrderBy(g => g.PromptIndex)];
    }
}
