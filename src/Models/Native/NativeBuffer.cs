using System.Runtime.InteropServices;

namespace Rollout.Models.Native;

/// <summary>
/// A 64-byte-aligned native allocation, freed on dispose or, failing that, by the finalizer. On Linux one of
/// at least a huge page starts on a huge page and asks for huge pages over the whole ones it spans before it
/// is first touched: the packed weights are read whole every decode step, and with 4 KB pages each step
/// walked the page tables for every one of their pages.
/// </summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    public NativeBuffer(nuint bytes) : base(0, ownsHandle: true)
    {
        bool huge = OperatingSystem.IsLinux() && bytes >= Libc.HugePageSize;
        SetHandle((nint)NativeMemory.AlignedAlloc(bytes, huge ? (nuint)Libc.HugePageSize : 64));
        if (huge) Libc.AdviseHugePages(handle, (nint)bytes);
        Bytes = bytes;
        GC.AddMemoryPressure((long)bytes);
    }

    public nuint Bytes { get; }

    public float* Floats => (float*)handle;

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure((long)Bytes);
        return true;
    }
}
