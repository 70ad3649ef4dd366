using System.Runtime.InteropServices;
using Rollout.Models.Kernels;

namespace Rollout.Models.Native;

/// <summary>
/// Runs C# work on libtorch's own OpenMP threads through libgomp's <c>GOMP_parallel</c> (the entry point
/// GCC compiles <c>#pragma omp parallel</c> into), which libtorch's CPU library links. After a matrix
/// product libgomp's workers keep spinning on the other cores for milliseconds; .NET thread-pool
/// workers forked then find those cores taken and wait for the scheduler, so a C# kernel right after a
/// product runs much slower on pool threads than on the OpenMP team, which is nearly as fast as with no
/// product before it (figures in docs/performance-log.md). Absent where libtorch was built without
/// libgomp.
/// </summary>
internal static unsafe class OpenMpTeam
{
    static readonly delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void> Parallel =
        (delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void>)LibTorchExports.Find("GOMP_parallel");

    /// <summary>Whether libgomp's entry point was found in the loaded libtorch.</summary>
    public static bool IsAvailable => Parallel != null;

    /// <summary>
    /// Runs <paramref name="body"/> for every task in [0, <paramref name="tasks"/>) on
    /// <paramref name="threads"/> team threads, the caller among them, each claiming tasks from its
    /// own <see cref="TaskShares"/> share first. Returns when all are done; the first exception a task
    /// threw is rethrown here, and no task starts after it.
    /// </summary>
    public static void For(int tasks, int threads, Action<int> body)
    {
        var work = new Work(new TaskShares(tasks, threads), body);
        var handle = GCHandle.Alloc(work);
        try
        {
            Parallel(&Run, GCHandle.ToIntPtr(handle), (uint)threads, 0);
        }
        finally
        {
            handle.Free();
        }
        if (work.Error is not null) throw new AggregateException(work.Error);
    }

    sealed class Work(TaskShares shares, Action<int> body)
    {
        public readonly TaskShares Shares = shares;
        public readonly Action<int> Body = body;
        public Exception? Error;
    }

    // Called by libgomp on each team thread. An exception must not unwind into native frames.
    [UnmanagedCallersOnly]
    static void Run(nint state)
    {
        var work = (Work)GCHandle.FromIntPtr(state).Target!;
        try
        {
            work.Shares.Drain(work.Body);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref work.Error, e, null);
        }
    }
}
