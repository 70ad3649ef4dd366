namespace Rollout.Client.Engines;

/// <summary>
/// Which engine takes the next group: the one with the fewest sequences this client has outstanding there
/// (the lowest index on ties). It counts what callers tell it; it never splits a group, because a group
/// asks once for all its sequences. Any thread.
/// </summary>
internal sealed class LeastLoadedRouter
{
    readonly int[] _outstanding;

    public LeastLoadedRouter(int engines)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(engines, 1);
        _outstanding = new int[engines];
    }

    /// <summary>Picks the least-loaded engine and counts <paramref name="sequences"/> more there.</summary>
    public int Acquire(int sequences)
    {
        lock (_outstanding)
        {
            int best = 0;
            for (int i = 1; i < _outstanding.Length; i++)
                if (_outstanding[i] < _outstanding[best]) best = i;
            _outstanding[best] += sequences;
            return best;
        }
    }

    /// <summary>Counts <paramref name="sequences"/> more on <paramref name="engine"/> (a group's later requests stay where it is).</summary>
    public void Add(int engine, int sequences)
    {
        lock (_outstanding) _outstanding[engine] += sequences;
    }

    /// <summary>Counts <paramref name="sequences"/> fewer on <paramref name="engine"/>.</summary>
    public void Release(int engine, int sequences) => Add(engine, -sequences);

    /// <summary>The sequences outstanding on each engine now.</summary>
    public int[] Outstanding()
    {
        lock (_outstanding) return [.. _outstanding];
    }
}
