using System.Runtime.InteropServices;
using TorchSharp;

namespace Rollout.Models.Native;

/// <summary>
/// The address of a tensor's first element, storage offset included. TorchSharp exposes the data only
/// as a span over the whole of a contiguous tensor; the C# kernels also read strided views (q, k, v out
/// of a fused projection) in place.
/// </summary>
internal static partial class TensorData
{
    /// <summary>The address of <paramref name="tensor"/>'s first element; valid while the tensor lives and is not resized.</summary>
    public static unsafe float* Floats(torch.Tensor tensor) => (float*)Address(tensor);

    /// <summary>The address of <paramref name="tensor"/>'s first element, as bytes.</summary>
    public static unsafe byte* Bytes(torch.Tensor tensor) => (byte*)Address(tensor);

    /// <summary>The address of <paramref name="tensor"/>'s first element, as int64s.</summary>
    public static unsafe long* Longs(torch.Tensor tensor) => (long*)Address(tensor);

    /// <summary>The address of <paramref name="tensor"/>'s first element, for calls that take an address and read nothing through it.</summary>
    public static IntPtr Address(torch.Tensor tensor)
    {
        var address = THSTensor_data(tensor.Handle);
        if (address == IntPtr.Zero) throw new InvalidOperationException($"tensor of shape [{string.Join(", ", tensor.shape)}] has no data");
        return address;
    }

    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr handle);
}
