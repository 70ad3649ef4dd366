using System.Runtime.InteropServices;

namespace Rollout.Models.Native;

/// <summary>The few glibc memory calls the native patches need.</summary>
internal static partial class Libc
{
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int ProtExec = 4;
    const int MapPrivate = 0x02;
    const int MapAnonymous = 0x20;
    public const int PageSize = 4096;

    /// <summary>Maps one private anonymous read-write page.</summary>
    public static nint MapPage()
    {
        nint page = Mmap(0, PageSize, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (page == -1) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}.");
        return page;
    }

    /// <summary>Sets the protection of the pages covering [address, address + length).</summary>
    public static void Protect(nint address, nint length, int protection)
    {
        nint start = address & ~(nint)(PageSize - 1);
        if (Mprotect(start, address + length - start, protection) != 0)
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}.");
    }

    /// <summary>
    /// Maps every page of [address, address + length) now, in one call, rather than one fault per 4 KB
    /// page at first touch (<c>MADV_POPULATE_READ</c> / <c>_WRITE</c>, Linux 5.14 and later). Returns false
    /// where the kernel does not know the advice; the pages then fault in as they are touched.
    /// </summary>
    public static bool Populate(nint address, nint length, bool write)
    {
        nint start = address & ~(nint)(PageSize - 1);
        return Madvise(start, address + length - start, write ? PopulateWrite : PopulateRead) == 0;
    }

    /// <summary>
    /// Asks the kernel to back the whole huge pages inside [address, address + length) with transparent huge
    /// pages (<c>MADV_HUGEPAGE</c>), which it does where the system allows them
    /// (<c>/sys/kernel/mm/transparent_hugepage/enabled</c> at <c>madvise</c> or <c>always</c>) for the parts
    /// first touched after this call. Returns false where the advice is refused or no huge page fits; the
    /// range then keeps 4 KB pages.
    /// </summary>
    public static bool AdviseHugePages(nint address, nint length)
    {
        nint start = (address + HugePageSize - 1) & ~(nint)(HugePageSize - 1), end = (address + length) & ~(nint)(HugePageSize - 1);
        return end > start && Madvise(start, end - start, HugePageAdvice) == 0;
    }

    /// <summary>The size of a transparent huge page on x86-64 Linux.</summary>
    public const int HugePageSize = 2 << 20;

    const int HugePageAdvice = 14;
    const int PopulateRead = 22;
    const int PopulateWrite = 23;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nint length, int advice);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint address, nint length, int protection);
}
