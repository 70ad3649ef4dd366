using System.Runtime.Intrinsics.X86;
using System.Text;

namespace Rollout.Models.Native;

/// <summary>What <see cref="MklCpuDispatch.Apply"/> found and did.</summary>
public enum MklDispatchState
{
    /// <summary>Not applied yet.</summary>
    Unapplied,
    /// <summary>Nothing to do: not Linux x64, an Intel CPU (MKL already picks its best kernels), or no full AVX-512.</summary>
    NotNeeded,
    /// <summary>Turned off by <see cref="MklCpuDispatch.DisableVariable"/>.</summary>
    Disabled,
    /// <summary>libtorch's CPU library is not mapped or does not import MKL's vendor check (no MKL in this build).</summary>
    NoMkl,
    /// <summary>MKL's vendor check answers "Intel", so it dispatches by the CPU's features.</summary>
    Applied,
}

/// <summary>
/// Lets the MKL inside libtorch use its AVX-512 kernels on non-Intel CPUs that have AVX-512.
/// MKL picks its kernels by vendor as well as by features: on AMD CPUs with AVX-512 (this project's
/// Zen 5 among them) it runs its AVX2 sgemm, about half the speed of its AVX-512 one on the same cores
/// (figures in docs/performance.md). MKL asks <c>mkl_serv_intel_cpu_true</c> whether the CPU is an
/// Intel one; this redirects libtorch's calls of it to a stub that says yes, the in-process form of
/// the well-known <c>LD_PRELOAD</c> workaround. Feature checks (AMX, AVX-512 FP16, ...) still read
/// CPUID, so no kernel runs that the CPU lacks. MKL settles its choice at its first matrix product
/// and keeps it, so this must run before any: <see cref="ProcessPatches.ForModel"/> applies it when a fast-path CPU model is created, and an
/// application that multiplies tensors before building a model calls <see cref="Apply"/> first.
/// Set <c>ROLLOUT_MKL_VENDOR_CHECK=keep</c> to leave MKL as shipped.
/// </summary>
public static class MklCpuDispatch
{
    /// <summary>Environment variable that turns the redirect off when set to <c>keep</c>.</summary>
    public const string DisableVariable = "ROLLOUT_MKL_VENDOR_CHECK";
    const string VendorCheck = "mkl_serv_intel_cpu_true";
    static readonly Lock Gate = new();

    /// <summary>The outcome of <see cref="Apply"/>.</summary>
    public static MklDispatchState State { get; private set; }

    /// <summary>Applies the redirect once per process where it helps; later calls return the first outcome.</summary>
    public static MklDispatchState Apply()
    {
        lock (Gate)
        {
            if (State == MklDispatchState.Unapplied) State = Decide();
            return State;
        }
    }

    static MklDispatchState Decide()
    {
        if (!OperatingSystem.IsLinux() || !X86Base.X64.IsSupported || Vendor() == "GenuineIntel"
            || !(Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported))
            return MklDispatchState.NotNeeded;
        if (Environment.GetEnvironmentVariable(DisableVariable) == "keep") return MklDispatchState.Disabled;
        LibTorchExports.EnsureLoaded();
        return ImportRedirect.Redirect(LibTorchExports.LibraryFileName, VendorCheck, ReturnOneStub()) > 0 ? MklDispatchState.Applied : MklDispatchState.NoMkl;
    }

    static string Vendor()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        var bytes = new byte[12];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), ebx);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), edx);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), ecx);
        return Encoding.ASCII.GetString(bytes);
    }

    /// <summary>
    /// A native function <c>int f(void) { return 1; }</c> on its own executable page. Native code is
    /// used rather than a managed callback because MKL calls it from its OpenMP threads, which would
    /// otherwise be attached to the runtime.
    /// </summary>
    static nint ReturnOneStub()
    {
        byte[] code = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3]; // mov eax, 1; ret
        nint page = Libc.MapPage();
        System.Runtime.InteropServices.Marshal.Copy(code, 0, page, code.Length);
        Libc.Protect(page, Libc.PageSize, Libc.ProtRead | Libc.ProtExec);
        return page;
    }
}
