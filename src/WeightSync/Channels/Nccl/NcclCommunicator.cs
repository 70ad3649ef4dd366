using System.Diagnostics;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// A communicator whose every step has a deadline: joining it, and each broadcast from the moment it is
/// enqueued. Waiting polls the slot's stream and the communicator's asynchronous error; when the deadline
/// passes, the communicator reports an error or the wait is cancelled, it aborts the communicator
/// (<c>ncclCommAbort</c>), so that no rank waits for ever on a peer that is gone, and throws a
/// <see cref="WeightUpdateException"/> naming what did not finish (or <see cref="OperationCanceledException"/>).
/// </summary>
internal sealed class NcclCommunicator : IDisposable
{
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    readonly ICollective _collective;
    readonly TimeSpan _timeout;
    int _inFlight;
    bool _aborted;

    NcclCommunicator(ICollective collective, TimeSpan timeout)
    {
        _collective = collective;
        _timeout = timeout;
    }

    /// <summary>A broadcast enqueued and not yet waited for.</summary>
    public sealed record InFlight(ICollectiveSlot Slot, string What, long Started);

    /// <summary>Joins the communicator <paramref name="uniqueId"/> names; every rank must join within <paramref name="timeout"/>.</summary>
    public static async Task<NcclCommunicator> JoinAsync(ICollectiveFactory factory, byte[] uniqueId, int rank, int worldSize, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var communicator = new NcclCommunicator(factory.Join(uniqueId, rank, worldSize), timeout);
        try
        {
            await communicator.UntilAsync(static () => true, $"joining the NCCL communicator as rank {rank} of {worldSize}", Stopwatch.GetTimestamp(), cancellationToken);
            return communicator;
        }
        catch
        {
            communicator.Dispose();
            throw;
        }
    }

    /// <summary>A bucket's device memory, freed with the communicator.</summary>
    public ICollectiveSlot CreateSlot(long capacity) => _collective.CreateSlot(capacity);

    /// <summary>Enqueues the broadcast of <paramref name="length"/> bytes of <paramref name="slot"/> and returns once NCCL accepted it; its deadline starts now.</summary>
    public async Task<InFlight> BroadcastAsync(ICollectiveSlot slot, long length, string what, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        Fallible(() => _collective.Broadcast(slot, length), what);
        _inFlight++;
        await UntilAsync(static () => true, what, started, cancellationToken);
        return new InFlight(slot, what, started);
    }

    /// <summary>Returns once <paramref name="broadcast"/> finished on this rank.</summary>
    public async Task WaitAsync(InFlight broadcast, CancellationToken cancellationToken)
    {
        await UntilAsync(() => broadcast.Slot.Idle, broadcast.What, broadcast.Started, cancellationToken);
        _inFlight--;
    }

    async Task UntilAsync(Func<bool> done, string what, long started, CancellationToken cancellationToken)
    {
        while (true)
        {
            var state = Fallible(Poll, what);
            if (state == CollectiveState.Ready && Fallible(done, what)) return;
            if (cancellationToken.IsCancellationRequested)
            {
                Abort();
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (Stopwatch.GetElapsedTime(started) >= _timeout)
            {
                Abort();
                throw new WeightUpdateException($"NCCL: {what} did not finish within {_timeout.TotalSeconds:0.###} s; the communicator was aborted");
            }
            await Task.Delay(PollInterval, CancellationToken.None);
        }
    }

    CollectiveState Poll()
    {
        var state = _collective.State(out string error);
        return state == CollectiveState.Failed ? throw new WeightUpdateException(error) : state;
    }

    /// <summary>Runs a call into the communicator; when it throws, the communicator is aborted and the failure names <paramref name="what"/>.</summary>
    T Fallible<T>(Func<T> call, string what)
    {
        try
        {
            return call();
        }
        catch (WeightUpdateException e)
        {
            Abort();
            throw new WeightUpdateException($"NCCL: {what} failed: {e.Message}; the communicator was aborted", e);
        }
    }

    void Fallible(Action call, string what) => Fallible(() => { call(); return true; }, what);

    void Abort()
    {
        if (_aborted) return;
        _aborted = true;
        _collective.Abort();
    }

    /// <summary>Destroys the communicator, aborting it first when a broadcast is still pending (destroying would wait for it).</summary>
    public void Dispose()
    {
        if (_inFlight > 0) Abort();
        _collective.Dispose();
    }
}
