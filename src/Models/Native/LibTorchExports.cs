using System.Runtime.InteropServices;
using TorchSharp;

namespace Rollout.Models.Native;

/// <summary>
/// Functions that libtorch's CPU library exports but TorchSharp does not bind, looked up once in the
/// copy this process has loaded; a missing one is <see cref="IntPtr.Zero"/> and its users fall back.
/// </summary>
internal static class LibTorchExports
{
    /// <summary>The file name of libtorch's CPU library, which also holds MKL.</summary>
    public const string LibraryFileName = "libtorch_cpu.so";
    static readonly Lazy<nint> Handle = new(Load);

    /// <summary>Makes TorchSharp load libtorch, so that its libraries are mapped.</summary>
    public static void EnsureLoaded() => torch.InitializeDeviceType(DeviceType.CPU);

    /// <summary>The address of <paramref name="symbol"/>, or zero when the library or the symbol is absent.</summary>
    public static nint Find(string symbol) =>
        Handle.Value != 0 && NativeLibrary.TryGetExport(Handle.Value, symbol, out var address) ? address : 0;

    static nint Load()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        EnsureLoaded();
        return ProcessMemoryMap.LibraryPath(LibraryFileName) is { } path && NativeLibrary.TryLoad(path, out var handle) ? handle : 0;
    }
}
