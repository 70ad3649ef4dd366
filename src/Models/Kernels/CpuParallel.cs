using Rollout.Models.Native;
using TorchSharp;

namespace Rollout.Models.Kernels;

/// <summary>
/// Runs a C# kernel's tasks on as many threads as libtorch uses: on libtorch's own OpenMP team where
/// libgomp is there (<see cref="OpenMpTeam"/>), else on the .NET thread pool. Threads claim tasks one at
/// a time, each from its own contiguous share first and then from the others' (<see cref="TaskShares"/>),
/// so a thread that gets its core late does not leave the caller waiting on a share it has not started.
/// </summary>
internal static class CpuParallel
{
    /// <summary>Runs <paramref name="body"/> for every task in [0, <paramref name="tasks"/>); returns when all are done.</summary>
    public static void For(int tasks, Action<int> body)
    {
        int parts = Math.Min(torch.get_num_threads(), tasks);
        if (parts <= 1)
        {
            for (int t = 0; t < tasks; t++) body(t);
            return;
        }
        if (OpenMpTeam.IsAvailable) OpenMpTeam.For(tasks, parts, body);
        else OnThreadPool(tasks, parts, body);
    }

    /// <summary>The fallback where libgomp is absent: <paramref name="threads"/> thread-pool workers claim the tasks.</summary>
    internal static void OnThreadPool(int tasks, int threads, Action<int> body)
    {
        var shares = new TaskShares(tasks, threads);
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => shares.Drain(body));
    }

    /// <summary>
    /// Splits <paramref name="rows"/> rows of <paramref name="rowElements"/> elements into tasks of about
    /// <paramref name="grain"/> elements (one task when the whole is smaller: waking a second thread
    /// costs more than a small pass) and runs <paramref name="body"/>(first, end) for each.
    /// </summary>
    public static void ForRows(long rows, long rowElements, long grain, Action<long, long> body)
    {
        long perTask = Math.Max(1, grain / Math.Max(1, rowElements));
        int tasks = (int)((rows + perTask - 1) / perTask);
        if (tasks <= 1)
        {
            body(0, rows);
            return;
        }
        For(tasks, t => body(t * perTask, Math.Min(rows, (t + 1) * perTask)));
    }
}
