using TorchSharp;

namespace Rollout.Models.Native;

/// <summary>
/// A tensor's version counter: libtorch bumps it on every in-place change (an optimizer step, a
/// <c>copy_</c> from a checkpoint or a weight update), through views too. TorchSharp does not expose
/// it; this calls the <c>_version</c> operator's C++ entry point with the tensor handle, which is a
/// pointer to the <c>at::Tensor</c> that entry point takes by reference.
/// </summary>
internal static unsafe class TensorVersion
{
    static readonly delegate* unmanaged<nint, long> Version =
        (delegate* unmanaged<nint, long>)LibTorchExports.Find("_ZN2at4_ops8_version4callERKNS_6TensorE");

    public static bool IsAvailable => Version != null;

    /// <summary>The current version of <paramref name="tensor"/>.</summary>
    /// <exception cref="PlatformNotSupportedException">libtorch does not export the operator here.</exception>
    public static long Of(torch.Tensor tensor) =>
        Version != null ? Version(tensor.Handle) : throw new PlatformNotSupportedException("libtorch's _version operator is not exported here.");
}
