using System.Runtime.InteropServices;

namespace Rollout.Models.Native;

/// <summary>
/// A 64-byte-aligned native allocation, freed on dispose or, failing that, by the finalizer. On Linux one of
/// at least a huge page is mapped fresh from the kernel, starts on a huge page and asks for huge pages over
/// the whole ones it spans before it is first touched: the packed weights are read whole every decode step,
/// and with 4 KB pages each step walked the page tables for every one of their pages. Memory glibc hands
/// back from its heap may already be backed by small pages, so such a buffer does not come from malloc.
/// </summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    readonly nint _mapping;
    readonly nint _mappedBytes;

    public NativeBuffer(nuint bytes) : base(0, ownsHandle: true)
    {
        if (OperatingSystem.IsLinux() && bytes >= Libc.HugePageSize)
        {
            _mappedBytes = (nint)bytes + Libc.HugePageSize;
            _mapping = Libc.MapFresh(_mappedBytes);
            SetHandle((_mapping + Libc.HugePageSize - 1) & ~(nint)(Libc.HugePageSize - 1));
            Libc.AdviseHugePages(handle, (nint)bytes);
        }
        else
        {
            SetHandle((nint)NativeMemory.AlignedAlloc(bytes, 64));
        }
        Bytes = bytes;
        GC.AddMemoryPressure((long)bytes);
    }

    public nuint Bytes { get; }

    public float* Floats => (float*)handle;

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        if (_mapping != 0) Libc.Unmap(_mapping, _mappedBytes);
        else NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure((long)Bytes);
        return true;
    }
}
