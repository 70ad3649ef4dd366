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
    /// <summary>The path of the mapped shared library whose file name is <paramref name="fileName"/>, or null.</summary>
    public static string? LibraryPath(string fileName) => LibraryImage(Read(), fileName)?.Path;

    /// <summary>The mapping of <paramref name="fileName"/>'s first page (file offset 0), or null when it is not mapped.</summary>
    public static MemoryMapping? LibraryImage(IReadOnlyList<MemoryMapping> mappings, string fileName)
    {
        foreach (var m in mappings)
            if (m.FileOffset == 0 && m.Path.Length > 0 && Path.GetFileName(m.Path) == fileName && File.Exists(m.Path)) return m;
        return null;
    }

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
