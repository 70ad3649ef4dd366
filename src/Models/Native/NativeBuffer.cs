using System.Runtime.InteropServices;

namespace Rollout.Models.Native;

/// <summary>A 64-byte-aligned native allocation, freed on dispose or, failing that, by the finalizer.</summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    public NativeBuffer(nuint bytes) : base(0, ownsHandle: true)
    {
        SetHandle((nint)NativeMemory.AlignedAlloc(bytes, 64));
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
