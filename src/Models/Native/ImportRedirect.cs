using System.Runtime.InteropServices;

namespace Rollout.Models.Native;

/// <summary>
/// Points a loaded shared library's own calls to an imported function at another function, by
/// rewriting the GOT slots its relocations bind to that symbol: what <c>LD_PRELOAD</c> of a library
/// defining the symbol would do, but from inside a running process and for one library only.
/// </summary>
internal static class ImportRedirect
{
    /// <summary>
    /// Rewrites every slot of <paramref name="symbol"/> in the mapped library whose file name is
    /// <paramref name="libraryFileName"/>; returns how many were rewritten (0 when the library is
    /// not loaded or does not import the symbol).
    /// </summary>
    public static int Redirect(string libraryFileName, string symbol, nint target)
    {
        var slots = Slots(libraryFileName, symbol);
        foreach (var (slot, writable) in slots)
        {
            if (!writable) Libc.Protect(slot, IntPtr.Size, Libc.ProtRead | Libc.ProtWrite);
            Marshal.WriteIntPtr(slot, target);
            if (!writable) Libc.Protect(slot, IntPtr.Size, Libc.ProtRead);
        }
        return slots.Count;
    }

    /// <summary>
    /// The addresses of the mapped library's GOT slots for <paramref name="symbol"/>, each with
    /// whether its page is writable now; empty when the library is not loaded or does not import it.
    /// </summary>
    public static IReadOnlyList<(nint Address, bool Writable)> Slots(string libraryFileName, string symbol)
    {
        var mappings = ProcessMemoryMap.Read();
        if (ProcessMemoryMap.LibraryImage(mappings, libraryFileName) is not { } image) return [];
        string path = image.Path;

        var (firstLoadAddress, offsets) = ElfDynamicRelocations.ImportSlots(path, symbol);
        ulong baseAddress = image.Start - firstLoadAddress;
        var slots = new List<(nint, bool)>();
        foreach (ulong offset in offsets)
        {
            ulong slot = baseAddress + offset;
            var page = mappings.FirstOrDefault(m => m.Contains(slot) && m.Path == path);
            if (page.Path is not null) slots.Add(((nint)slot, page.Writable));
        }
        return slots;
    }
}
