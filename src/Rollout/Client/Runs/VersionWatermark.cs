namespace Rollout.Client.Runs;

/// <summary>
/// The newest weight version a client has seen on any token, and the staleness rule measured against it:
/// a trajectory is stale when its oldest token is more than K versions behind. Any thread.
/// </summary>
internal sealed class VersionWatermark
{
    long _newest;

    /// <summary>The newest version seen so far (0 before any token).</summary>
    public long Newest => Interlocked.Read(ref _newest);

    /// <summary>Raises the watermark to the newest of <paramref name="versions"/>.</summary>
    public void Observe(IReadOnlyList<long> versions)
    {
        if (versions.Count == 0) return;
        long newest = versions.Max();
        long seen = Newest;
        while (newest > seen)
        {
            long was = Interlocked.CompareExchange(ref _newest, newest, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>Whether <paramref name="trajectory"/>'s oldest token is more than <paramref name="maxStaleness"/> versions behind the newest seen; a trajectory without tokens never is.</summary>
    public bool IsStale(Trajectory trajectory, long maxStaleness) =>
        trajectory.WeightVersions.Count > 0 && Newest - trajectory.OldestVersion > maxStaleness;
}
