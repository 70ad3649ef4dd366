using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Kernels;
using Rollout.Models.Native;

namespace Rollout.Models.Tests.Kernels;

/// <summary>
/// Tests that need libtorch's OpenMP team to themselves run alone: a parallel region another test class opens at the
/// same moment can leave libgomp one thread to give, and the test that two tasks run on two threads then measures that.
/// </summary>
[CollectionDefinition(nameof(OpenMpTeamAlone), DisableParallelization = true)]
public sealed class OpenMpTeamAlone;

/// <summary>The C# kernels' fork: libtorch's OpenMP team where libgomp is linked, the thread pool elsewhere.</summary>
[Collection(nameof(OpenMpTeamAlone))]
public class CpuParallelTests
{
    public static TheoryData<string> Runners => new() { "openmp", "threadpool" };

    static void Run(string runner, int tasks, int threads, Action<int> body)
    {
        if (runner == "openmp") OpenMpTeam.For(tasks, threads, body);
        else CpuParallel.OnThreadPool(tasks, threads, body);
    }

    [Fact]
    public void LibTorchsOpenMpTeamIsFoundOnLinux()
    {
        Assert.True(!OperatingSystem.IsLinux() || OpenMpTeam.IsAvailable, "GOMP_parallel was not found in the loaded libtorch_cpu.so");
    }

    [Property(MaxTest = 40)]
    public bool EveryTaskRunsExactlyOnce(PositiveInt taskCount, PositiveInt threadCount, bool openMp)
    {
        int tasks = taskCount.Get % 300 + 1, threads = threadCount.Get % 4 + 1;
        var runs = new int[tasks];
        Run(openMp ? "openmp" : "threadpool", tasks, threads, t => Interlocked.Increment(ref runs[t]));
        return runs.All(r => r == 1);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public void TasksRunOnTwoThreadsAtOnce(string runner)
    {
        // Task 0 waits for task 1 to start: only a second thread can start it, so one thread alone times out.
        using var secondStarted = new ManualResetEventSlim();
        var threadOf = new int[2];
        Run(runner, 2, 2, t =>
        {
            threadOf[t] = Environment.CurrentManagedThreadId;
            if (t == 1) secondStarted.Set();
            else Assert.True(secondStarted.Wait(TimeSpan.FromSeconds(20)), "task 1 never started while task 0 ran");
        });
        Assert.NotEqual(threadOf[0], threadOf[1]);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public void AFailingTaskSurfacesOnTheCallerAndTheRunnerKeepsWorking(string runner)
    {
        var error = Assert.Throws<AggregateException>(() => Run(runner, 50, 2, t =>
        {
            if (t == 7) throw new InvalidOperationException("task 7 failed");
        }));
        Assert.Contains(error.Flatten().InnerExceptions, e => e is InvalidOperationException { Message: "task 7 failed" });

        int done = 0;
        Run(runner, 50, 2, _ => Interlocked.Increment(ref done));
        Assert.Equal(50, done);
    }
}
