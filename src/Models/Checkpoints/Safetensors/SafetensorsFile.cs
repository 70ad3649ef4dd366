using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Safetensors;

/// <summary>
/// One <c>.safetensors</c> file, memory-mapped. The header is validated completely at
/// <see cref="Open"/>, so <see cref="Read"/> only copies bytes from the mapping into a new tensor.
/// Reads may run concurrently; disposing while reading is not supported. The file must not be
/// truncated in place while open (replacing it by rename, as <see cref="SafetensorsWriter"/> does, is safe).
/// </summary>
public sealed unsafe class SafetensorsFile : ICheckpointReader
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _data;
    readonly Dictionary<string, SafetensorsEntry> _entries;
    readonly string[] _names;
    bool _disposed;

    SafetensorsFile(string path, SafetensorsHeader header, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* data)
    {
        Path = path;
        Metadata = header.Metadata;
        _map = map;
        _view = view;
        _data = data;
        _entries = header.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        _names = header.Entries.Select(e => e.Name).ToArray();
    }

    /// <summary>The path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor name, in the order the tensors lie in the file.</summary>
    public IReadOnlyCollection<string> TensorNames => _names;

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file is truncated, malformed or uses an unsupported dtype.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static SafetensorsFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < sizeof(ulong))
                throw SafetensorsHeader.Fail(path, $"file has {fileLength} bytes, too few for the 8-byte header length");
            Span<byte> prefix = stackalloc byte[sizeof(ulong)];
            stream.ReadExactly(prefix);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw SafetensorsHeader.Fail(path, $"header length {headerLength} exceeds the {SafetensorsHeader.MaxHeaderBytes}-byte limit");
            long available = fileLength - sizeof(ulong);
            if ((long)headerLength > available)
                throw SafetensorsHeader.Fail(path, $"header length {headerLength} runs past the end of the file ({available} bytes follow it)");

            var json = new byte[headerLength];
            stream.ReadExactly(json);
            long dataStart = sizeof(ulong) + (long)headerLength;
            var header = SafetensorsHeader.Parse(json, fileLength - dataStart, path);

            // An explicit capacity makes mapping fail if the file shrank since we measured it.
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: fileLength, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            acquired = true;
            return new SafetensorsFile(path, header, map, view, pointer + view.PointerOffset + dataStart);
        }
        catch
        {
            if (acquired)
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public TensorInfo Describe(string name)
    {
        var entry = Find(name);
        return new TensorInfo(entry.DType, (long[])entry.Shape.Clone());
    }

    /// <inheritdoc/>
    public torch.Tensor Read(string name)
    {
        var entry = Find(name);
        var tensor = torch.empty(entry.Shape, dtype: entry.DType);
        try
        {
            TensorBytes.CopyFrom(tensor, _data + entry.Begin, entry.ByteLength);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    internal bool Contains(string name) => _entries.ContainsKey(name);

    SafetensorsEntry Find(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _entries.TryGetValue(name, out var entry)
            ? entry
            : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
    }

    /// <summary>Unmaps the file. Tensors already read stay valid: they own copies.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
