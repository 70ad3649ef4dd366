using Rollout.Models.Native;

namespace Rollout.Models.Tests.Native;

public class NativeBufferTests
{
    // Huge pages can back only whole, aligned 2 MB pages of a buffer; whether Linux grants them depends on
    // memory glibc may already have backed with small pages, so the test checks what the buffer controls.
    [Fact]
    public unsafe void ABufferOfSeveralHugePagesStartsOnOne()
    {
        using var buffer = new NativeBuffer(4 * (nuint)Libc.HugePageSize + 12345);
        Assert.Equal(0, (long)buffer.Floats % (OperatingSystem.IsLinux() ? Libc.HugePageSize : 64));
        new Span<byte>(buffer.Floats, (int)buffer.Bytes).Fill(1);
        Assert.Equal(BitConverter.Int32BitsToSingle(0x01010101), buffer.Floats[(long)buffer.Bytes / sizeof(float) - 1]);
    }

    [Fact]
    public void AdviceOverARangeWithNoWholeHugePageIsRefused()
    {
        nint aligned = 64 * (nint)Libc.HugePageSize;
        Assert.False(Libc.AdviseHugePages(aligned + 4096, Libc.HugePageSize));
        Assert.False(Libc.AdviseHugePages(aligned, Libc.HugePageSize - 4096));
    }

    [Fact]
    public unsafe void ASmallBufferKeepsTheCacheLineAlignment()
    {
        using var buffer = new NativeBuffer(1000);
        Assert.Equal(0, (long)buffer.Floats % 64);
        Assert.Equal(1000u, buffer.Bytes);
    }
}
