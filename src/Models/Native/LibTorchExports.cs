using System.Runtime.InteropServices;
using TorchSharp;

namespace Rollout.Models.Native;

/// <summary>
/// Functions that libtorch's CPU library exports but TorchSharp does not bind, looked up once in the
/// copy this process has loaded; a missing one is <see cref="IntPtr.Zero"/> and its users fall back.
/// </summary>
internal static class LibTorchExports
{
    const string Library = "libtorch_cpu.so";
    static readonly Lazy<nint> Handle = new(Load);

    /// <summary>The address of <paramref name="symbol"/>, or zero when the library or the symbol is absent.</summary>
    public static nint Find(string symbol) =>
        Handle.Value != 0 && NativeLibrary.TryGetExport(Handle.Value, symbol, out var address) ? address : 0;

    static nint Load()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        torch.InitializeDeviceType(DeviceType.CPU);
        return ProcessMemoryMap.LibraryPath(Library) is { } path && NativeLibrary.TryLoad(path, out var handle) ? handle : 0;
    }
}
