using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;

namespace Rollout.WeightSync.Channels.Ipc;

/// <summary>
/// A file under <c>/dev/shm</c> mapped into memory, named <c>rollout-weights-PID-GUID</c> after the
/// process that made it. Whoever opens it last removes the name at once (a mapping outlives its name),
/// the maker removes it when the update ends, and <see cref="RemoveOrphans"/> removes the segments of
/// processes that died before either could.
/// </summary>
internal sealed unsafe class SharedMemorySegment : IDisposable
{
    public const string Folder = "/dev/shm";
    const string Prefix = "rollout-weights-";

    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _data;

    SharedMemorySegment(string path, MemoryMappedFile file, long length, bool writable)
    {
        Path = path;
        Length = length;
        _file = file;
        _view = file.CreateViewAccessor(0, length, writable ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read);
        byte* data = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref data);
        _data = data + _view.PointerOffset;
        // A copy through a fresh mapping would otherwise take one page fault every 4 KB.
        if (length > 0) Rollout.Models.Native.Libc.Populate((nint)_data, (nint)length, writable);
    }

    public string Path { get; }

    public long Length { get; }

    public byte* Data => _data;

    /// <summary>A new segment of <paramref name="length"/> bytes, named after this process.</summary>
    public static SharedMemorySegment Create(long length)
    {
        string path = System.IO.Path.Combine(Folder, $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.CreateNew, mapName: null, Math.Max(1, length), MemoryMappedFileAccess.ReadWrite);
        return new SharedMemorySegment(path, file, length, writable: true);
    }

    /// <summary>Opens a segment another process made, read-only, and removes its name (the mapping stays).</summary>
    public static SharedMemorySegment Open(string path, long length)
    {
        if (System.IO.Path.GetDirectoryName(path) != Folder || !System.IO.Path.GetFileName(path).StartsWith(Prefix, StringComparison.Ordinal))
            throw new WeightUpdateException($"'{path}' is not a weight segment under {Folder}");
        MemoryMappedFile file;
        try
        {
            file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
        }
        catch (IOException e)
        {
            throw new WeightUpdateException($"cannot open the segment '{path}': {e.Message}", e);
        }
        try
        {
            long size = new FileInfo(path).Length;
            if (size < length) throw new WeightUpdateException($"the segment '{path}' holds {size} bytes; the update needs {length}");
            return new SharedMemorySegment(path, file, length, writable: false);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Removes the segments of processes that no longer run.</summary>
    public static int RemoveOrphans()
    {
        int removed = 0;
        foreach (string path in Directory.EnumerateFiles(Folder, Prefix + "*"))
        {
            string rest = System.IO.Path.GetFileName(path)[Prefix.Length..];
            int dash = rest.IndexOf('-');
            if (dash <= 0 || !int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || Alive(pid)) continue;
            try
            {
                File.Delete(path);
                removed++;
            }
            catch (IOException)
            {
            }
        }
        return removed;
    }

    static bool Alive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
        if (File.Exists(Path)) File.Delete(Path);
    }
}
