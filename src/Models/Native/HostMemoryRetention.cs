using System.Runtime.InteropServices;

namespace Rollout.Models.Native;

/// <summary>
/// Makes glibc keep a bounded amount of freed memory for reuse instead of handing it back to the
/// kernel at once. libtorch's CPU allocator takes every large tensor straight from malloc, which by
/// default maps big blocks fresh from the kernel and unmaps them on free: each engine step would then
/// page-fault through every large temporary (the measurements are in docs/performance.md). With
/// mmap off, big blocks come from the heap; trimming starts only once the free memory at the top of
/// the heap passes <see cref="TrimThresholdBytes"/>, so a step's temporaries stay warm for the next
/// step and anything beyond that still goes back to the system.
/// </summary>
internal static partial class HostMemoryRetention
{
    const int TrimThreshold = -1;
    const int MmapMax = -4;

    /// <summary>Free memory glibc keeps at the top of its heap before it returns the rest.</summary>
    public const int TrimThresholdBytes = 512 << 20;

    /// <summary>Applies the setting where the C library is glibc; returns what it did, or null where it did nothing.</summary>
    public static string? Apply()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            if (Mallopt(MmapMax, 0) == 0 || Mallopt(TrimThreshold, TrimThresholdBytes) == 0) return null;
            return $"glibc malloc: large blocks from the heap (no mmap), up to {TrimThresholdBytes >> 20} MiB of free memory kept for reuse";
        }
        catch (EntryPointNotFoundException)
        {
            // musl and other C libraries have no mallopt: their allocators keep their own policy.
            return null;
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
