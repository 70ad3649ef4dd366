using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Rollout.Client.Engines;
using Rollout.Engine.Sampling;

namespace Rollout.Client.Runs;

/// <summary>
/// One call's groups in flight. Each group goes whole to the least-loaded engine, comes back once its last
/// completion has finished, has the client's staleness rule applied (stale trajectories dropped, or
/// regenerated on the same engine), and is handed over. An <see cref="EarlyStop"/> aborts every request
/// still running when it fires, and their groups come back with their partial completions. Cancelling, a
/// failed group, or a reader that stops early ends every request the run started, and the run waits for
/// them to end before it returns.
/// </summary>
internal sealed class RolloutRun(RolloutClient client, SamplingParams sampling)
{
    public async IAsyncEnumerable<TrajectoryGroup> RunAsync(IReadOnlyList<PendingGroup> groups, EarlyStop? stop,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, client.Lifetime);
        using var endEarly = new CancellationTokenSource();
        if (stop?.Deadline is { } deadline) endEarly.CancelAfter(deadline);
        int finishedToStop = stop?.FinishedFraction is double fraction ? (int)Math.Ceiling(fraction * groups.Count) : int.MaxValue;
        var done = Channel.CreateUnbounded<TrajectoryGroup>();
        // Each group starts (and picks its engine) in order, before the first of them waits on anything.
        var running = groups.Select(g => CompleteAsync(g, done.Writer, endEarly.Token, cancel)).ToArray();
        try
        {
            int finished = 0;
            for (int i = 0; i < groups.Count; i++)
            {
                var group = await NextAsync(done.Reader, cancel.Token);
                if (!group.Trajectories.Any(GroupRequests.IsUnfinished) && ++finished >= finishedToStop) await endEarly.CancelAsync();
                yield return group;
            }
        }
        finally
        {
            await cancel.CancelAsync();
            await Task.WhenAll(running);
        }
    }

    /// <summary>Runs a group and hands it over; the first failure ends the whole run and is what its reader sees.</summary>
    async Task CompleteAsync(PendingGroup group, ChannelWriter<TrajectoryGroup> done, CancellationToken endEarly, CancellationTokenSource cancel)
    {
        try
        {
            done.TryWrite(await RunGroupAsync(group, endEarly, cancel.Token));
        }
        catch (Exception e)
        {
            done.TryComplete(e);
            await cancel.CancelAsync();
        }
    }

    static async Task<TrajectoryGroup> NextAsync(ChannelReader<TrajectoryGroup> reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException e) when (e.InnerException is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
            throw;
        }
    }

    async Task<TrajectoryGroup> RunGroupAsync(PendingGroup group, CancellationToken endEarly, CancellationToken cancellationToken)
    {
        var slots = new Trajectory?[group.N];
        var work = new List<Segment>();
        if (group.SoFar is null) work.Add(new Segment(group.Prompt, GroupRequests.First(sampling, group.N), Continues: null));
        else
            foreach (var t in group.SoFar)
            {
                slots[t.Index] = t;
                if (!GroupRequests.IsUnfinished(t)) continue;
                if (GroupRequests.IsOutOfRoom(sampling, t)) slots[t.Index] = t with { FinishReason = "length" };
                else work.Add(Continuation(t));
            }
        int engine = client.Router.Acquire(work.Sum(s => s.Sampling.N));
        await RunSegmentsAsync(group, engine, work, slots, endEarly, cancellationToken);
        while (client.Options.MaxStaleness is long maxStaleness
               && slots.Where(t => t is not null && client.Watermark.IsStale(t, maxStaleness)).Select(t => t!).ToArray() is { Length: > 0 } stale)
        {
            if (client.Options.Staleness == StalenessPolicy.Drop)
            {
                foreach (var t in stale) slots[t.Index] = null;
                client.CountDropped(stale.Length);
                break;
            }
            client.CountRecomputed(stale.Length);
            var restarts = stale.Select(t => t with
            {
                CompletionTokenIds = [], Logprobs = [], WeightVersions = [], SupportSizes = t.SupportSizes is null ? null : [],
                SupportIds = t.SupportIds is null ? null : [], FinishReason = "abort", Text = null,
            }).ToArray();
            foreach (var t in restarts) slots[t.Index] = t;
            client.Router.Add(engine, restarts.Length);
            await RunSegmentsAsync(group, engine, [.. restarts.Select(Continuation)], slots, endEarly, cancellationToken);
        }
        return new TrajectoryGroup
        {
            PromptIndex = group.PromptIndex,
            PromptTokenIds = group.Prompt,
            Trajectories = [.. slots.OfType<Trajectory>()],
        };
    }

    Segment Continuation(Trajectory partial)
    {
        var (prompt, continued) = GroupRequests.Continue(sampling, partial);
        return new Segment(prompt, continued, partial);
    }

    Task RunSegmentsAsync(PendingGroup group, int engine, IReadOnlyList<Segment> work, Trajectory?[] slots, CancellationToken endEarly,
        CancellationToken cancellationToken) =>
        Task.WhenAll(work.Select(segment => RunSegmentAsync(group, engine, segment, slots, endEarly, cancellationToken)));

    async Task RunSegmentAsync(PendingGroup group, int engine, Segment segment, Trajectory?[] slots, CancellationToken endEarly,
        CancellationToken cancellationToken)
    {
        int received = 0;
        try
        {
            await foreach (var completion in client.Engines[engine].GenerateAsync(segment.Prompt, segment.Sampling, endEarly, cancellationToken))
            {
                received++;
                client.Router.Release(engine, 1);
                client.Watermark.Observe(completion.WeightVersions);
                var trajectory = Build(group, segment, completion);
                slots[trajectory.Index] = trajectory;
            }
        }
        finally
        {
            client.Router.Release(engine, segment.Sampling.N - received);
        }
    }

    Trajectory Build(PendingGroup group, Segment segment, EngineCompletion completion)
    {
        var before = segment.Continues;
        IReadOnlyList<int> tokens = before is null ? completion.TokenIds : [.. before.CompletionTokenIds, .. completion.TokenIds];
        return new Trajectory
        {
            PromptIndex = group.PromptIndex,
            Index = before?.Index ?? completion.Index,
            PromptTokenIds = group.Prompt,
            CompletionTokenIds = tokens,
            Logprobs = before is null ? completion.Logprobs : [.. before.Logprobs, .. completion.Logprobs],
            WeightVersions = before is null ? completion.WeightVersions : [.. before.WeightVersions, .. completion.WeightVersions],
            SupportSizes = sampling.ReturnSupport == SamplingSupport.None ? null : [.. before?.SupportSizes ?? [], .. completion.SupportSizes ?? []],
            SupportIds = sampling.ReturnSupport == SamplingSupport.Ids ? [.. before?.SupportIds ?? [], .. completion.SupportIds ?? []] : null,
            FinishReason = completion.FinishReason,
            Text = client.Tokenizer?.Decode(tokens, sampling.SkipSpecialTokens),
        };
    }

    /// <summary>One engine request of a group: its first (n completions of the prompt), or one completion continued from its tokens so far.</summary>
    readonly record struct Segment(IReadOnlyList<int> Prompt, SamplingParams Sampling, Trajectory? Continues);
}
