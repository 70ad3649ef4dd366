using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Native;

public class MklCpuDispatchTests
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int VendorCheck();

    static bool NonIntelWithAvx512 =>
        OperatingSystem.IsLinux() && X86Base.X64.IsSupported
        && Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported
        && !IsIntel();

    static bool IsIntel()
    {
        var (_, ebx, _, _) = X86Base.CpuId(0, 0);
        return ebx == 0x756E6547; // "Genu"
    }

    [Fact]
    public void OnANonIntelCpuWithAvx512MklsVendorCheckAnswersIntel()
    {
        var state = MklCpuDispatch.Apply();
        if (!NonIntelWithAvx512)
        {
            Assert.Equal(MklDispatchState.NotNeeded, state);
            return;
        }
        Assert.Equal(MklDispatchState.Applied, state);
        var slots = ImportRedirect.Slots(LibTorchExports.LibraryFileName, "mkl_serv_intel_cpu_true");
        Assert.NotEmpty(slots);
        foreach (var (address, _) in slots)
        {
            var check = Marshal.GetDelegateForFunctionPointer<VendorCheck>(Marshal.ReadIntPtr(address));
            Assert.Equal(1, check());
        }
    }

    [Fact]
    public void ApplyingAgainKeepsTheFirstOutcome()
    {
        var first = MklCpuDispatch.Apply();
        Assert.Equal(first, MklCpuDispatch.Apply());
        Assert.Equal(first, MklCpuDispatch.State);
    }

    [Theory]
    [InlineData(1, 768, 2304)]
    [InlineData(64, 768, 4096)]
    [InlineData(300, 2048, 770)]
    public void FloatProductsMatchDoublePrecisionWhicheverKernelsMklChose(int m, int k, int n)
    {
        MklCpuDispatch.Apply();
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var a = randn([m, k], dtype: float64, generator: generator);
        var b = randn([k, n], dtype: float64, generator: generator);
        var exact = a.matmul(b);
        var single = nn.functional.linear(a.to(float32), b.t().contiguous().to(float32)).to(float64);
        double worst = (exact - single).abs().max().item<double>();
        Assert.True(worst < 1e-3 * Math.Sqrt(k), $"max |float - double| = {worst} for {m}x{k}x{n}");
    }
}
