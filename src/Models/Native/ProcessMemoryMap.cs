using System.Globalization;

namespace Rollout.Models.Native;

/// <summary>One line of <c>/proc/self/maps</c>: an address range, its protection and what backs it.</summary>
internal readonly record struct MemoryMapping(ulong Start, ulong End, string Permissions, ulong FileOffset, string Path)
{
    public bool Writable => Permissions.Length > 1 && Permissions[1] == 'w';

    public bool Contains(ulong address) => address >= Start && address < End;
}

/// <summary>The current process's memory mappings (Linux).</summary>
internal static class ProcessMemoryMap
{
    public static IReadOnlyList<MemoryMapping> Read()
    {
        var mappings = new List<MemoryMapping>();
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5) continue;
            var range = fields[0].Split('-');
            mappings.Add(new MemoryMapping(
                ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                fields[1],
                ulong.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                fields.Length == 6 ? fields[5].Trim() : ""));
        }
        return mappings;
    }
}
