using System.Runtime.InteropServices;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// Whether this process can use NCCL: libcudart and libnccl found by the dynamic loader
/// (<c>LD_LIBRARY_PATH</c> included), every entry point the channel calls present, and a CUDA device.
/// Loaded on first use, once; nothing is loaded at start-up.
/// </summary>
public static class NcclLibrary
{
    static readonly string[] NcclNames = ["libnccl.so.2", "libnccl.so"];
    static readonly string[] CudartNames = ["libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"];
    static readonly Lazy<(string Reason, int Version)> Loaded = new(Load);

    /// <summary>Loads the libraries if not yet done; false with the reason (no libnccl, no libcudart, no CUDA device, an NCCL too old) when NCCL cannot be used here.</summary>
    public static bool TryLoad(out string reason)
    {
        reason = Loaded.Value.Reason;
        return reason.Length == 0;
    }

    /// <summary>The loaded libnccl's version code (<c>NCCL_VERSION_CODE</c>: 22203 for 2.22.3).</summary>
    /// <exception cref="WeightUpdateException">NCCL cannot be used here; the message says why.</exception>
    public static int Version => TryLoad(out string reason) ? Loaded.Value.Version : throw new WeightUpdateException($"NCCL is unavailable: {reason}");

    static unsafe (string Reason, int Version) Load()
    {
        if (!OperatingSystem.IsLinux()) return ("the NCCL channel runs on Linux only", 0);
        nint? nccl = Open(NcclNames), cudart = Open(CudartNames);
        var missing = new List<string>();
        if (nccl is null) missing.Add($"no libnccl (tried {string.Join(", ", NcclNames)})");
        if (cudart is null) missing.Add($"no CUDA runtime (tried {string.Join(", ", CudartNames)})");
        if (missing.Count > 0) return ($"{string.Join("; ", missing)}: install them, or add their folder to LD_LIBRARY_PATH", 0);
        try
        {
            CudaRuntime.Bind(cudart!.Value);
            NcclNative.Bind(nccl!.Value);
        }
        catch (EntryPointNotFoundException e)
        {
            return ($"a library lacks an entry point the channel needs (NCCL 2.14 or later is required): {e.Message}", 0);
        }
        int devices = 0;
        int status = CudaRuntime.GetDeviceCount(&devices);
        if (status != CudaRuntime.Success || devices == 0)
            return ($"no CUDA device (cudaGetDeviceCount: {Marshal.PtrToStringUTF8((nint)CudaRuntime.GetErrorString(status))}, {devices} devices)", 0);
        int version = 0;
        NcclNative.GetVersion(&version);
        return ("", version);
    }

    static nint? Open(string[] names)
    {
        foreach (string name in names)
            if (NativeLibrary.TryLoad(name, out nint handle)) return handle;
        return null;
    }
}
