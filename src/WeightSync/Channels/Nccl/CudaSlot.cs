namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// A bucket's device memory (<c>cudaMalloc</c>) and its own non-blocking stream, so one slot's copy
/// overlaps the other slot's broadcast. Copies in and out wait for their stream: the slot is idle then,
/// with no collective on it that a dead peer could hold up.
/// </summary>
internal sealed unsafe class CudaSlot : ICollectiveSlot, IDisposable
{
    readonly int _device;

    public CudaSlot(int device, long capacity)
    {
        _device = device;
        Capacity = capacity;
        Use(device);
        nint pointer = 0, stream = 0;
        CudaRuntime.Check(CudaRuntime.Malloc(&pointer, (nuint)Math.Max(1, capacity)), $"cudaMalloc({capacity})");
        int created = CudaRuntime.StreamCreateWithFlags(&stream, CudaRuntime.NonBlockingStream);
        if (created != CudaRuntime.Success)
        {
            CudaRuntime.Free(pointer);
            CudaRuntime.Check(created, "cudaStreamCreateWithFlags");
        }
        Pointer = pointer;
        Stream = stream;
    }

    public nint Pointer { get; }

    public nint Stream { get; }

    public long Capacity { get; }

    public bool Idle
    {
        get
        {
            Use(_device);
            int result = CudaRuntime.StreamQuery(Stream);
            if (result == CudaRuntime.NotReady) return false;
            CudaRuntime.Check(result, "cudaStreamQuery");
            return true;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* source = bytes) Copy(Pointer + (nint)offset, (nint)source, bytes.Length, CudaRuntime.HostToDevice);
    }

    public void Read(long offset, Span<byte> destination)
    {
        fixed (byte* target = destination) Copy((nint)target, Pointer + (nint)offset, destination.Length, CudaRuntime.DeviceToHost);
    }

    void Copy(nint destination, nint source, int length, int kind)
    {
        if (length == 0) return;
        Use(_device);
        CudaRuntime.Check(CudaRuntime.MemcpyAsync(destination, source, (nuint)length, kind, Stream), "cudaMemcpyAsync");
        CudaRuntime.Check(CudaRuntime.StreamSynchronize(Stream), "cudaStreamSynchronize");
    }

    /// <summary>Makes <paramref name="device"/> current on this thread: the CUDA runtime keeps it per thread, and awaits change threads.</summary>
    public static void Use(int device) => CudaRuntime.Check(CudaRuntime.SetDevice(device), $"cudaSetDevice({device})");

    public void Dispose()
    {
        Use(_device);
        CudaRuntime.StreamDestroy(Stream);
        CudaRuntime.Free(Pointer);
    }
}
