using System.Globalization;
using Rollout.Models.Native;

namespace Rollout.Models.Tests.Native;

public class NativeBufferTests
{
    // The packed weights' buffers: huge pages where the system gives them to a process that asks.
    [RequiresHugePagesFact]
    public unsafe void ABufferOfSeveralHugePagesIsBackedByThem()
    {
        using var buffer = new NativeBuffer(4 * (nuint)Libc.HugePageSize + 12345);
        Assert.Equal(0, (long)buffer.Floats % Libc.HugePageSize);
        new Span<byte>(buffer.Floats, (int)buffer.Bytes).Fill(1);

        Assert.True(HugePageKilobytes((nint)buffer.Floats) >= Libc.HugePageSize / 1024,
            $"the mapping holding the buffer has {HugePageKilobytes((nint)buffer.Floats)} kB in huge pages");
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

    // AnonHugePages of the /proc/self/smaps mapping that holds the address.
    static long HugePageKilobytes(nint address)
    {
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            if (dash > 0 && line.IndexOf(' ') > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out ulong start)
                && ulong.TryParse(line.AsSpan(dash + 1, line.IndexOf(' ') - dash - 1), NumberStyles.HexNumber, null, out ulong end))
                inside = (ulong)address >= start && (ulong)address < end;
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                return long.Parse(line["AnonHugePages:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return 0;
    }
}
