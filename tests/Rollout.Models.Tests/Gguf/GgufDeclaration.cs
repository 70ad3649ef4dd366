using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

/// <summary>What a number in a GGUF header counts or names, for mutations that aim at one.</summary>
internal enum GgufFieldKind
{
    Count,
    ValueType,
    Alignment,
    Rank,
    Dimension,
    TensorType,
    Offset,
}

/// <summary>One little-endian number of a GGUF header: where it lies, how wide it is and what it held.</summary>
internal sealed record GgufField(GgufFieldKind Kind, int Position, int Width, ulong Value, string What);

/// <summary>A tensor directory entry as the file declares it: ggml dimensions (fastest first), type id, data offset.</summary>
internal sealed record DeclaredGgufTensor(string Name, ulong[] Dimensions, uint Type, ulong Offset);

/// <summary>
/// A GGUF file read by the test itself, straight from the specification (and ggml.h's type numbers),
/// sharing no code with <see cref="Rollout.Models.Checkpoints.Gguf.GgufFile"/>: metadata, tensor
/// directory, data section start, and where every number in the header lies.
/// </summary>
internal sealed class GgufDeclaration
{
    /// <summary>The unquantized ggml types: id, torch dtype, element size, ggml name.</summary>
    static readonly Dictionary<uint, (ScalarType DType, int Size, string Name)> Plain = new()
    {
        [0] = (ScalarType.Float32, 4, "F32"), [1] = (ScalarType.Float16, 2, "F16"), [24] = (ScalarType.Int8, 1, "I8"),
        [25] = (ScalarType.Int16, 2, "I16"), [26] = (ScalarType.Int32, 4, "I32"), [27] = (ScalarType.Int64, 8, "I64"),
        [28] = (ScalarType.Float64, 8, "F64"), [30] = (ScalarType.BFloat16, 2, "BF16"),
    };

    /// <summary>The block-quantized ggml types still defined in ggml.h.</summary>
    static readonly Dictionary<uint, string> Quantized = new()
    {
        [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1", [8] = "Q8_0", [9] = "Q8_1", [10] = "Q2_K", [11] = "Q3_K",
        [12] = "Q4_K", [13] = "Q5_K", [14] = "Q6_K", [15] = "Q8_K", [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS",
        [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S", [22] = "IQ2_S", [23] = "IQ4_XS", [29] = "IQ1_M", [34] = "TQ1_0",
        [35] = "TQ2_0", [39] = "MXFP4",
    };

    readonly byte[] file;
    readonly int countWidth;
    int position;

    GgufDeclaration(byte[] file)
    {
        this.file = file;
        Check(Read(4, "magic") == 0x46554747, "magic is not GGUF");
        Version = (int)Read(4, "version");
        Check(Version is >= 1 and <= 3, $"version {Version} is not 1 to 3");
        countWidth = Version == 1 ? 4 : 8;
        ulong tensorCount = Field(GgufFieldKind.Count, countWidth, "tensor count");
        ulong metadataCount = Field(GgufFieldKind.Count, countWidth, "metadata count");
        for (ulong i = 0; i < metadataCount; i++)
        {
            string key = String($"metadata key {i}");
            uint type = (uint)Field(GgufFieldKind.ValueType, 4, $"type of '{key}'");
            Metadata.Add(KeyValuePair.Create(key, Value(type, key)));
        }
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = String($"name of tensor {i}");
            uint rank = (uint)Field(GgufFieldKind.Rank, 4, $"rank of '{name}'");
            var dims = new List<ulong>();
            for (uint d = 0; d < rank; d++)
                dims.Add(Field(GgufFieldKind.Dimension, countWidth, $"dimension {d} of '{name}'"));
            uint type = (uint)Field(GgufFieldKind.TensorType, 4, $"type of '{name}'");
            ulong offset = Field(GgufFieldKind.Offset, 8, $"offset of '{name}'");
            Tensors.Add(new DeclaredGgufTensor(name, [.. dims], type, offset));
        }
        Alignment = 32;
        if (Metadata.FirstOrDefault(m => m.Key == "general.alignment").Value is { } alignment)
        {
            Check(alignment is uint a && BitOperations.IsPow2(a), $"general.alignment is {alignment} ({alignment.GetType().Name})");
            Alignment = (uint)alignment;
        }
        DataStart = (position + Alignment - 1) / Alignment * Alignment;
    }

    public int Version { get; }

    /// <summary>Every key and value in file order, duplicates included, values typed as the spec's types map to the CLR.</summary>
    public List<KeyValuePair<string, object>> Metadata { get; } = [];

    public List<DeclaredGgufTensor> Tensors { get; } = [];

    public uint Alignment { get; }

    public long DataStart { get; }

    public List<GgufField> Fields { get; } = [];

    /// <summary>Reads <paramref name="file"/>; fails the test where the file cannot mean what it says.</summary>
    public static GgufDeclaration Parse(byte[] file) => new(file);

    /// <summary>The ggml name of <paramref name="type"/>, as GGUF tools print it.</summary>
    public static string TypeName(uint type) =>
        Plain.TryGetValue(type, out var plain) ? plain.Name
        : Quantized.TryGetValue(type, out string? name) ? name
        : throw Unreadable($"ggml type {type} is not defined");

    /// <summary>What reading <paramref name="tensor"/> must give: its dtype, row-major shape and bytes; null for a quantized type.</summary>
    public (ScalarType DType, long[] Shape, byte[] Bytes)? Contents(DeclaredGgufTensor tensor)
    {
        if (!Plain.TryGetValue(tensor.Type, out var type))
            return null;
        Check(tensor.Dimensions.All(d => d <= long.MaxValue), $"'{tensor.Name}' has a dimension past 2^63");
        BigInteger size = tensor.Dimensions.Aggregate(new BigInteger(type.Size), (product, d) => product * d);
        BigInteger begin = DataStart + (BigInteger)tensor.Offset;
        Check(begin + size <= file.Length, $"'{tensor.Name}' ({size} bytes at data offset {tensor.Offset}) runs past the file's end");
        long[] shape = tensor.Dimensions.Reverse().Select(d => (long)d).ToArray();
        return (type.DType, shape, file[(int)begin..(int)(begin + size)]);
    }

    object Value(uint type, string what) => type switch
    {
        0 => (byte)Read(1, what),
        1 => (sbyte)Read(1, what),
        2 => (ushort)Read(2, what),
        3 => (short)Read(2, what),
        4 => what == "general.alignment" ? (uint)Field(GgufFieldKind.Alignment, 4, what) : (uint)Read(4, what),
        5 => (int)Read(4, what),
        6 => BitConverter.UInt32BitsToSingle((uint)Read(4, what)),
        7 => Read(1, what) != 0,
        8 => String(what),
        9 => Array(what),
        10 => Read(8, what),
        11 => (long)Read(8, what),
        12 => BitConverter.UInt64BitsToDouble(Read(8, what)),
        _ => throw Unreadable($"{what} has value type {type}"),
    };

    /// <summary>An array's item type, count and items; arrays of arrays hold bare payloads of the same form.</summary>
    object Array(string what)
    {
        uint itemType = (uint)Field(GgufFieldKind.ValueType, 4, $"item type of {what}");
        ulong count = Field(GgufFieldKind.Count, countWidth, $"length of {what}");
        var items = new List<object>();
        for (ulong i = 0; i < count; i++)
            items.Add(itemType == 9 ? Array(what) : Value(itemType, $"{what}[{i}]"));
        return itemType switch
        {
            0 => items.Cast<byte>().ToArray(),
            1 => items.Cast<sbyte>().ToArray(),
            2 => items.Cast<ushort>().ToArray(),
            3 => items.Cast<short>().ToArray(),
            4 => items.Cast<uint>().ToArray(),
            5 => items.Cast<int>().ToArray(),
            6 => items.Cast<float>().ToArray(),
            7 => items.Cast<bool>().ToArray(),
            8 => items.Cast<string>().ToArray(),
            10 => items.Cast<ulong>().ToArray(),
            11 => items.Cast<long>().ToArray(),
            12 => items.Cast<double>().ToArray(),
            9 => items.ToArray(),
            _ => throw Unreadable($"{what} has item type {itemType}"),
        };
    }

    // The spec asks for UTF-8; llama.cpp takes the bytes as they are, so invalid sequences become U+FFFD.
    string String(string what)
    {
        ulong length = Field(GgufFieldKind.Count, countWidth, $"length of {what}");
        Check(length <= (ulong)(file.Length - position), $"{what} of {length} bytes runs past the end");
        string text = Encoding.UTF8.GetString(file, position, (int)length);
        position += (int)length;
        return text;
    }

    ulong Field(GgufFieldKind kind, int width, string what)
    {
        int at = position;
        ulong value = Read(width, what);
        Fields.Add(new GgufField(kind, at, width, value, what));
        return value;
    }

    ulong Read(int width, string what)
    {
        Check(width <= file.Length - position, $"{what} at byte {position} runs past the end");
        var bytes = file.AsSpan(position, width);
        position += width;
        return width switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        };
    }

    static void Check(bool condition, string problem)
    {
        if (!condition)
            throw Unreadable(problem);
    }

    static XunitException Unreadable(string problem) => new($"the loader accepted a file that cannot be read as declared: {problem}");
}
