using System.Runtime.InteropServices;
using Rollout.Models.Native;
using TorchSharp;

namespace Rollout.Models.Tests.Native;

public class ImportRedirectTests
{
    const string TorchCpu = LibTorchExports.LibraryFileName;

    [Fact]
    public void ResolvedSlotOfAnImportHoldsTheAddressTheLoaderBoundIt()
    {
        LibTorchExports.EnsureLoaded();
        using (var t = torch.ones(1 << 20)) { }
        var slots = ImportRedirect.Slots(TorchCpu, "malloc");

        Assert.NotEmpty(slots);
        nint malloc = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "malloc");
        Assert.Contains(slots, s => Marshal.ReadIntPtr(s.Address) == malloc);
    }

    [Fact]
    public void LibraryThatIsNotLoadedOrSymbolNotImportedHasNoSlots()
    {
        LibTorchExports.EnsureLoaded();
        Assert.Empty(ImportRedirect.Slots("libnot-loaded-here.so", "malloc"));
        Assert.Empty(ImportRedirect.Slots(TorchCpu, "rollout_no_such_symbol"));
    }

    [Fact]
    public void FileThatIsNotElf64IsRefused()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[128]);
            Assert.Throws<InvalidDataException>(() => ElfDynamicRelocations.ImportSlots(path, "malloc"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
