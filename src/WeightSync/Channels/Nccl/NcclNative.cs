using System.Runtime.InteropServices;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// The libnccl entry points this channel calls, bound at run time by <see cref="NcclLibrary"/> (never at
/// start-up: a process without NCCL runs everything else). Communicators are made non-blocking so that
/// their initialisation, like every collective, can be polled and aborted.
/// </summary>
internal static unsafe class NcclNative
{
    public const int Success = 0;
    public const int InProgress = 7;
    public const int UniqueIdBytes = 128;
    public const int Uint8 = 1;

    /// <summary><c>ncclUniqueId</c>: passed by value, as libnccl takes it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UniqueId
    {
        public fixed byte Internal[UniqueIdBytes];
    }

    /// <summary>
    /// <c>ncclConfig_v21400</c>, the layout NCCL 2.14 introduced, with that version stamped in: later
    /// libraries read a config by the version it carries, so their newer fields keep their defaults.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Config
    {
        public nuint Size;
        public uint Magic;
        public uint Version;
        public int Blocking;
        // The C struct's tail padding, where later layouts put cgaClusterSize: "undefined", as their initialiser sets it.
        public int Padding;

        public static Config NonBlocking() => new()
        {
            Size = (nuint)sizeof(Config),
            Magic = 0xcafebeef,
            Version = 21400,
            Blocking = 0,
            Padding = int.MinValue,
        };
    }

    public static delegate* unmanaged<int*, int> GetVersion;
    public static delegate* unmanaged<UniqueId*, int> GetUniqueId;
    public static delegate* unmanaged<nint*, int, UniqueId, int, Config*, int> CommInitRankConfig;
    public static delegate* unmanaged<nint, int*, int> CommGetAsyncError;
    public static delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> Broadcast;
    public static delegate* unmanaged<nint, int> CommAbort;
    public static delegate* unmanaged<nint, int> CommDestroy;
    public static delegate* unmanaged<int, byte*> GetErrorString;

    /// <summary>Resolves every entry point in <paramref name="library"/>; throws <see cref="EntryPointNotFoundException"/> naming the first one missing.</summary>
    public static void Bind(nint library)
    {
        GetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "ncclGetVersion");
        GetUniqueId = (delegate* unmanaged<UniqueId*, int>)NativeLibrary.GetExport(library, "ncclGetUniqueId");
        CommInitRankConfig = (delegate* unmanaged<nint*, int, UniqueId, int, Config*, int>)NativeLibrary.GetExport(library, "ncclCommInitRankConfig");
        CommGetAsyncError = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "ncclCommGetAsyncError");
        Broadcast = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)NativeLibrary.GetExport(library, "ncclBroadcast");
        CommAbort = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "ncclCommAbort");
        CommDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "ncclCommDestroy");
        GetErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(library, "ncclGetErrorString");
    }

    /// <summary>libnccl's words for <paramref name="result"/>.</summary>
    public static string Describe(int result) => $"{Marshal.PtrToStringUTF8((nint)GetErrorString(result))} (ncclResult {result})";

    /// <summary>Throws unless <paramref name="result"/> is success or, for a non-blocking communicator, in progress.</summary>
    public static void Check(int result, string call)
    {
        if (result is not (Success or InProgress)) throw new WeightUpdateException($"{call} failed: {Describe(result)}");
    }
}
