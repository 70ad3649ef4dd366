using System.Runtime.InteropServices;

namespace Rollout.Engine.Execution;

/// <summary>
/// Makes glibc keep freed memory for reuse instead of handing it back to the kernel. libtorch's CPU
/// allocator takes every large tensor straight from malloc, which maps big blocks fresh from the
/// kernel and unmaps them on free: each engine step then page-faults through every large temporary
/// (measured here: a 88 MB copy took 184 ms instead of 3 ms, most of a decode step). With mmap off
/// and trimming off, those pages stay in the heap and the next step reuses them warm. The cost is
/// that the process keeps its peak footprint, as engines that preallocate do anyway.
/// A thread other than the main one allocates from its own glibc arena, whose heaps behave the same
/// way whatever mallopt says once the process has started (measured: decode steps on the engine's
/// loop thread 5x slower than on the main thread). Only <c>MALLOC_ARENA_MAX=1</c> in the process's
/// environment at start cures that; <see cref="SingleArenaVariable"/> names it for launchers.
/// </summary>
internal static partial class HostMemoryRetention
{
    const int TrimThreshold = -1;
    const int MmapMax = -4;
    static int _applied;

    /// <summary>The environment variable (and value) that makes every thread share glibc's main heap.</summary>
    public const string SingleArenaVariable = "MALLOC_ARENA_MAX";

    /// <summary>Whether this process started with every thread on glibc's main heap.</summary>
    public static bool HasSingleArena => Environment.GetEnvironmentVariable(SingleArenaVariable) == "1";

    /// <summary>Applies the setting once per process, where the C library is glibc; elsewhere does nothing.</summary>
    public static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref _applied, 1) == 1) return;
        try
        {
            Mallopt(MmapMax, 0);
            Mallopt(TrimThreshold, int.MaxValue);
        }
        catch (EntryPointNotFoundException)
        {
            // musl and other C libraries have no mallopt: their allocators keep their own policy.
        }
        catch (DllNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
