namespace Rollout.Models.Kernels;

/// <summary>
/// The tasks [0, n) of one parallel loop, cut into one contiguous share per thread. A thread claims its
/// own share's tasks from the front and, once that is empty, the other shares' from the back, so the
/// threads work on tasks far apart and a thread that gets its core late leaves nothing waiting on it.
/// Far apart matters for the decode attention: neighbouring sequences' KV blocks lie side by side in the
/// cache, and two threads reading them at the same time were slower than two threads each in its own
/// share (figures in docs/performance-log.md).
/// </summary>
internal sealed class TaskShares
{
    // A share's [next, end) packed in one long, claimed by compare-and-swap; shares a cache line apart so
    // the threads' claims do not contend.
    const int Stride = 64 / sizeof(long);

    readonly long[] _shares;
    readonly int _count;
    int _joined = -1;

    public TaskShares(int tasks, int shares)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tasks);
        ArgumentOutOfRangeException.ThrowIfLessThan(shares, 1);
        _count = shares;
        _shares = new long[shares * Stride];
        for (int s = 0; s < shares; s++) _shares[s * Stride] = Pack((int)((long)tasks * s / shares), (int)((long)tasks * (s + 1) / shares));
    }

    /// <summary>Runs claimed tasks on the calling thread until none is left; a task's exception cancels the rest and is rethrown.</summary>
    public void Drain(Action<int> body)
    {
        int home = Interlocked.Increment(ref _joined) % _count;
        try
        {
            while (TryClaim(home, out int task)) body(task);
        }
        catch
        {
            Cancel();
            throw;
        }
    }

    /// <summary>The next task for a thread whose own share is <paramref name="home"/>; false when every share is empty.</summary>
    public bool TryClaim(int home, out int task)
    {
        if (TryTake(home, fromFront: true, out task)) return true;
        for (int k = 1; k < _count; k++)
        {
            if (TryTake((home + k) % _count, fromFront: false, out task)) return true;
        }
        return false;
    }

    /// <summary>Empties every share: no task is claimed after this.</summary>
    public void Cancel()
    {
        for (int s = 0; s < _count; s++) Volatile.Write(ref _shares[s * Stride], Pack(0, 0));
    }

    bool TryTake(int share, bool fromFront, out int task)
    {
        ref long slot = ref _shares[share * Stride];
        while (true)
        {
            long state = Volatile.Read(ref slot);
            int next = (int)state, end = (int)(state >> 32);
            if (next >= end)
            {
                task = -1;
                return false;
            }
            task = fromFront ? next : end - 1;
            long claimed = fromFront ? Pack(next + 1, end) : Pack(next, end - 1);
            if (Interlocked.CompareExchange(ref slot, claimed, state) == state) return true;
        }
    }

    static long Pack(int next, int end) => (uint)next | ((long)end << 32);
}
