using TorchSharp;

namespace Rollout.Engine.Core;

/// <summary>How many bytes the KV cache may take when the options give a fraction of free memory.</summary>
internal static class KvCacheBudget
{
    public static long FromFreeMemory(torch.Device device, double fraction)
    {
        if (device.type != DeviceType.CPU)
            throw new ArgumentException($"on {device} give the KV cache size in bytes (EngineOptions.KvCacheBytes); free memory is measured on the CPU only");
        return (long)(AvailableHostMemory() * fraction);
    }

    // MemAvailable is what the kernel says can be allocated without swapping; the GC's view is the
    // whole machine's memory, far too optimistic for a machine that runs other work.
    static long AvailableHostMemory()
    {
        const string meminfo = "/proc/meminfo";
        if (File.Exists(meminfo))
        {
            foreach (string line in File.ReadLines(meminfo))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && long.TryParse(parts[1], out long kib)) return kib * 1024;
            }
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
    }
}
