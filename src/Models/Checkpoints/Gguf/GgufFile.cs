using System.Buffers.Binary;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>
/// A GGUF file (llama.cpp's model format, versions 1 to 3), memory-mapped read-only: its metadata, its
/// tensor directory under the file's own names, and unquantized tensors copied out on request.
/// </summary>
/// <remarks>
/// Every count, length, dimension and offset is checked against the file's size before use, so a
/// malformed or hostile file ends in <see cref="CheckpointFormatException"/>, never in an over-read
/// or an allocation larger than the file.
/// </remarks>
public sealed unsafe class GgufFile : IDisposable
{
    const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint
    const uint DefaultAlignment = 32;
    const int MaxDimensions = 4; // GGML_MAX_DIMS
    const string AlignmentKey = "general.alignment";

    // Copies go through torch's byte span, an int-sized Span; chunks keep each under 2 GiB.
    const long CopyChunkBytes = 1L << 30;

    readonly MemoryMappedFile map;
    readonly MemoryMappedViewAccessor view;
    readonly byte* start;
    readonly long length;
    readonly long dataStart;
    readonly Dictionary<string, GgufTensorInfo> byName;
    bool disposed;

    GgufFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* start, long length)
    {
        Path = path;
        this.map = map;
        this.view = view;
        this.start = start;
        this.length = length;

        // The header, metadata and tensor directory come first and are small next to the data, so a
        // span over the first 2 GiB covers them; only tensor data lies beyond.
        var header = new ReadOnlySpan<byte>(start, (int)Math.Min(length, int.MaxValue));
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (magic != Magic)
            throw new CheckpointFormatException($"{path}: not a GGUF file (magic bytes {Convert.ToHexString(header[..4])}, expected 47475546)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (version is < 1 or > 3)
        {
            string hint = BinaryPrimitives.ReverseEndianness(version) is >= 1 and <= 3 ? " (a big-endian GGUF, which is not supported)" : "";
            throw new CheckpointFormatException($"{path}: unknown GGUF version {version}{hint}; versions 1 to 3 are supported");
        }
        Version = (int)version;

        var cursor = new GgufCursor(header, Version);
        cursor.UInt64("magic and version");
        int tensorCount = cursor.Count("tensor count", 4 + 4 + 4 + 8);
        int metadataCount = cursor.Count("metadata count", 4 + 4 + 1);
        Metadata = ReadMetadata(ref cursor, metadataCount);
        Alignment = ReadAlignment();
        var infos = ReadTensorInfos(ref cursor, tensorCount);
        dataStart = AlignUp(cursor.Position, Alignment);
        if (tensorCount > 0 && dataStart > length)
            throw new CheckpointFormatException($"{path}: the tensor data section would start at byte {dataStart}, past the end of the file ({length} bytes)");
        foreach (var info in infos) CheckDataRange(info);
        Tensors = infos;
        byName = infos.ToDictionary(i => i.Name);
    }

    /// <summary>The file this was opened from.</summary>
    public string Path { get; }

    /// <summary>The GGUF version, 1 to 3.</summary>
    public int Version { get; }

    /// <summary>
    /// Every metadata key with its value as the CLR type of its GGUF type: <c>byte</c>, <c>sbyte</c>,
    /// <c>ushort</c>, <c>short</c>, <c>uint</c>, <c>int</c>, <c>float</c>, <c>bool</c>, <c>string</c>,
    /// <c>ulong</c>, <c>long</c>, <c>double</c>; arrays as arrays of those, arrays of arrays as
    /// <c>object[]</c>.
    /// </summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <summary>The tensor directory, in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    internal uint Alignment { get; }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file is not a well-formed GGUF file.</exception>
    public static GgufFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long length = stream.Length;
            if (length < 8)
                throw new CheckpointFormatException($"{path}: {length} bytes is too short for a GGUF header");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            acquired = true;
            return new GgufFile(path, map, view, pointer + view.PointerOffset, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The directory entry named <paramref name="name"/>, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => byName.GetValueOrDefault(name);

    /// <summary>Copies tensor <paramref name="name"/> into a new CPU tensor of row-major shape <see cref="GgufTensorInfo.Shape"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="CheckpointFormatException">The tensor is quantized.</exception>
    public torch.Tensor Read(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!byName.TryGetValue(name, out var info)) throw new KeyNotFoundException($"{Path} has no tensor '{name}'");
        var dtype = GgmlTypes.TorchType(info.Type) ?? throw GgmlTypes.Quantized(name, info.Type);
        var tensor = torch.empty(info.Shape, dtype);
        byte* source = start + dataStart + (long)info.Offset;
        long elementSize = GgmlTypes.ElementSize(dtype);
        long elements = info.ByteSize!.Value / elementSize;
        long chunk = CopyChunkBytes / elementSize;
        using var flat = tensor.view(-1);
        for (long done = 0; done < elements; done += chunk)
        {
            using var part = flat.narrow(0, done, Math.Min(chunk, elements - done));
            new ReadOnlySpan<byte>(source + done * elementSize, (int)(part.NumberOfElements * elementSize)).CopyTo(part.bytes);
        }
        return tensor;
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }

    internal string? GetString(string key) => Get<string>(key, "a string");

    internal bool? GetBool(string key) => Metadata.TryGetValue(key, out var v) ? v as bool? ?? throw WrongType(key, v, "a bool") : null;

    internal long? GetInteger(string key) => Metadata.TryGetValue(key, out var v) ? AsInteger(v) ?? throw WrongType(key, v, "an integer") : null;

    // Converters store config numbers such as 1e-5 as float32; the shortest decimal that rounds to the
    // float is the number they started from, where widening the float would give 9.99999974e-06.
    internal double? GetFloat(string key) => Metadata.TryGetValue(key, out var v)
        ? v switch
        {
            float f => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            double d => d,
            _ => AsInteger(v) ?? throw WrongType(key, v, "a number"),
        }
        : null;

    internal string[]? GetStringArray(string key) => Get<string[]>(key, "an array of strings");

    internal long[]? GetIntegerArray(string key)
    {
        if (!Metadata.TryGetValue(key, out var value)) return null;
        if (value is not Array items || GgufValueTypes.IsArrayOfArrays(items)) throw WrongType(key, value, "an array of integers");
        var result = new long[items.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = AsInteger(items.GetValue(i)!) ?? throw WrongType(key, value, "an array of integers");
        return result;
    }

    internal float[]? GetFloatArray(string key) => Metadata.TryGetValue(key, out var v)
        ? v switch { float[] f => f, double[] d => d.Select(x => (float)x).ToArray(), _ => throw WrongType(key, v, "an array of floats") }
        : null;

    T? Get<T>(string key, string expected) where T : class =>
        Metadata.TryGetValue(key, out var v) ? v as T ?? throw WrongType(key, v, expected) : null;

    static long? AsInteger(object value) => value switch
    {
        byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint ui => ui, int i => i, long l => l,
        ulong ul when ul <= long.MaxValue => (long)ul,
        _ => null,
    };

    CheckpointFormatException WrongType(string key, object value, string expected) =>
        new($"{Path}: metadata '{key}' is {value.GetType().Name}, expected {expected}");

    Dictionary<string, object> ReadMetadata(ref GgufCursor cursor, int count)
    {
        var metadata = new Dictionary<string, object>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string key = cursor.ReadString($"metadata key {i}");
            var type = (GgufValueType)cursor.UInt32($"type of metadata '{key}'");
            object value = cursor.Value(type, $"metadata '{key}'");
            if (!metadata.TryAdd(key, value)) throw new CheckpointFormatException($"{Path}: metadata key '{key}' appears twice");
        }
        return metadata;
    }

    uint ReadAlignment()
    {
        if (!Metadata.TryGetValue(AlignmentKey, out var value)) return DefaultAlignment;
        // llama.cpp insists on a uint32 here; so do we, rather than guess at other encodings.
        if (value is not uint alignment || alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new CheckpointFormatException($"{Path}: {AlignmentKey} must be a power-of-two uint32, not {value} ({value.GetType().Name})");
        return alignment;
    }

    List<GgufTensorInfo> ReadTensorInfos(ref GgufCursor cursor, int count)
    {
        var infos = new List<GgufTensorInfo>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = cursor.ReadString($"name of tensor {i}");
            if (!names.Add(name)) throw new CheckpointFormatException($"{Path}: tensor '{name}' appears twice");
            uint rank = cursor.UInt32($"rank of tensor '{name}'");
            if (rank is 0 or > MaxDimensions)
                throw new CheckpointFormatException($"{Path}: tensor '{name}' has {rank} dimensions; GGUF allows 1 to {MaxDimensions}");
            var dims = new long[rank];
            for (int d = 0; d < rank; d++) dims[d] = cursor.Dimension($"dimension {d} of tensor '{name}'");
            uint typeId = cursor.UInt32($"type of tensor '{name}'");
            if (!GgmlTypes.IsKnown(typeId)) throw new CheckpointFormatException($"{Path}: tensor '{name}' has unknown ggml type {typeId}");
            var type = (GgmlType)typeId;
            ulong offset = cursor.UInt64($"offset of tensor '{name}'");
            infos.Add(new GgufTensorInfo(name, type, dims, offset, ByteSize(name, type, dims)));
        }
        return infos;
    }

    long? ByteSize(string name, GgmlType type, long[] dims)
    {
        if (GgmlTypes.TorchType(type) is not { } dtype) return null;
        try
        {
            // The extent (zero dimensions counted as one) must fit too: libtorch sizes strides and storage by it,
            // so [0, 2^32, 2^32] holds no bytes yet would fail in torch.empty, after Open had accepted it.
            _ = checked(dims.Aggregate((long)GgmlTypes.ElementSize(dtype), (a, b) => a * Math.Max(b, 1)));
            return checked(dims.Aggregate(1L, (a, b) => a * b) * GgmlTypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException($"{Path}: tensor '{name}' of dimensions [{string.Join(", ", dims)}] is too large to address");
        }
    }

    void CheckDataRange(GgufTensorInfo info)
    {
        if (info.Offset % Alignment != 0)
            throw new CheckpointFormatException($"{Path}: tensor '{info.Name}' starts at data offset {info.Offset}, not a multiple of the alignment {Alignment}");
        ulong dataLength = (ulong)(length - dataStart);
        // Quantized tensors are never read, so only their start is checked.
        ulong size = (ulong)(info.ByteSize ?? 0);
        if (info.Offset > dataLength || size > dataLength - info.Offset)
            throw new CheckpointFormatException(
                $"{Path}: tensor '{info.Name}' ({size} bytes at data offset {info.Offset}) lies outside the {dataLength}-byte data section");
    }

    static long AlignUp(long position, uint alignment) => (position + alignment - 1) / alignment * alignment;
}
