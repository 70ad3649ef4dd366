using System.Runtime.InteropServices;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// The few libcudart entry points the NCCL channel needs (device, streams, device memory, copies),
/// bound at run time by <see cref="NcclLibrary"/> like libnccl's.
/// </summary>
internal static unsafe class CudaRuntime
{
    public const int Success = 0;
    public const int NotReady = 600;
    public const int HostToDevice = 1;
    public const int DeviceToHost = 2;
    // A stream that does not wait for the legacy default stream, so one bucket's copy never waits for the other's broadcast.
    public const uint NonBlockingStream = 1;

    public static delegate* unmanaged<int*, int> GetDeviceCount;
    public static delegate* unmanaged<int, int> SetDevice;
    public static delegate* unmanaged<nint*, uint, int> StreamCreateWithFlags;
    public static delegate* unmanaged<nint, int> StreamDestroy;
    public static delegate* unmanaged<nint, int> StreamQuery;
    public static delegate* unmanaged<nint, int> StreamSynchronize;
    public static delegate* unmanaged<nint*, nuint, int> Malloc;
    public static delegate* unmanaged<nint, int> Free;
    public static delegate* unmanaged<nint, nint, nuint, int, nint, int> MemcpyAsync;
    public static delegate* unmanaged<int, byte*> GetErrorString;

    /// <summary>Resolves every entry point in <paramref name="library"/>; throws <see cref="EntryPointNotFoundException"/> naming the first one missing.</summary>
    public static void Bind(nint library)
    {
        GetDeviceCount = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "cudaGetDeviceCount");
        SetDevice = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(library, "cudaSetDevice");
        StreamCreateWithFlags = (delegate* unmanaged<nint*, uint, int>)NativeLibrary.GetExport(library, "cudaStreamCreateWithFlags");
        StreamDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cudaStreamDestroy");
        StreamQuery = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cudaStreamQuery");
        StreamSynchronize = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cudaStreamSynchronize");
        Malloc = (delegate* unmanaged<nint*, nuint, int>)NativeLibrary.GetExport(library, "cudaMalloc");
        Free = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cudaFree");
        MemcpyAsync = (delegate* unmanaged<nint, nint, nuint, int, nint, int>)NativeLibrary.GetExport(library, "cudaMemcpyAsync");
        GetErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(library, "cudaGetErrorString");
    }

    /// <summary>Throws unless <paramref name="result"/> is success.</summary>
    public static void Check(int result, string call)
    {
        if (result != Success)
            throw new WeightUpdateException($"{call} failed: {Marshal.PtrToStringUTF8((nint)GetErrorString(result))} (cudaError {result})");
    }
}
