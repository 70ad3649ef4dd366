using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>
/// Reads the GGUF header forward, refusing any read past the end. Counts and lengths are 32-bit in
/// version 1 and 64-bit from version 2 on; every count is checked against the bytes left before
/// anything is allocated for it, so a hostile count cannot ask for more memory than the file holds.
/// </summary>
internal ref struct GgufCursor(ReadOnlySpan<byte> bytes, int version)
{
    readonly ReadOnlySpan<byte> bytes = bytes;
    readonly bool wideCounts = version >= 2;

    internal int Position { get; private set; }

    int Remaining => bytes.Length - Position;

    int CountSize => wideCounts ? 8 : 4;

    ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw new CheckpointFormatException($"{what} at byte {Position} runs past the end of the file ({bytes.Length} bytes)");
        var span = bytes.Slice(Position, (int)count);
        Position += (int)count;
        return span;
    }

    internal uint UInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));

    internal ulong UInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>A count of items each at least <paramref name="minItemSize"/> bytes long.</summary>
    internal int Count(string what, int minItemSize)
    {
        ulong count = wideCounts ? UInt64(what) : UInt32(what);
        if (count > (ulong)Remaining / (ulong)minItemSize)
            throw new CheckpointFormatException($"{what} is {count}, more than the {Remaining} bytes left in the file can hold");
        return (int)count;
    }

    /// <summary>A tensor dimension: 32-bit in version 1, 64-bit after.</summary>
    internal long Dimension(string what)
    {
        ulong value = wideCounts ? UInt64(what) : UInt32(what);
        if (value > long.MaxValue) throw new CheckpointFormatException($"{what} is {value}, past the largest tensor dimension");
        return (long)value;
    }

    // GGUF strings are meant to be UTF-8; invalid bytes become U+FFFD rather than refusing files that
    // llama.cpp itself loads.
    internal string ReadString(string what) => Encoding.UTF8.GetString(Take(Count(what, 1), what));

    internal object Value(GgufValueType type, string what)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return Take(1, what)[0];
            case GgufValueType.Int8: return (sbyte)Take(1, what)[0];
            case GgufValueType.UInt16: return BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
            case GgufValueType.Int16: return BinaryPrimitives.ReadInt16LittleEndian(Take(2, what));
            case GgufValueType.UInt32: return UInt32(what);
            case GgufValueType.Int32: return BinaryPrimitives.ReadInt32LittleEndian(Take(4, what));
            case GgufValueType.Float32: return BinaryPrimitives.ReadSingleLittleEndian(Take(4, what));
            case GgufValueType.Bool: return Take(1, what)[0] != 0;
            case GgufValueType.String: return ReadString(what);
            case GgufValueType.UInt64: return UInt64(what);
            case GgufValueType.Int64: return BinaryPrimitives.ReadInt64LittleEndian(Take(8, what));
            case GgufValueType.Float64: return BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));
            case GgufValueType.Array: return ReadArray(what, 0);
            default: throw new CheckpointFormatException($"{what} has unknown value type {(uint)type}");
        }
    }

    object ReadArray(string what, int depth)
    {
        if (depth >= GgufValueTypes.MaxArrayNesting) throw new CheckpointFormatException($"{what} nests arrays more than {GgufValueTypes.MaxArrayNesting} deep");
        var itemType = (GgufValueType)UInt32(what + " item type");
        int fixedSize = GgufValueTypes.FixedSize(itemType);
        int minItemSize = itemType switch
        {
            GgufValueType.String => CountSize,
            GgufValueType.Array => 4 + CountSize,
            _ => fixedSize,
        };
        if (minItemSize == 0) throw new CheckpointFormatException($"{what} has unknown item type {(uint)itemType}");
        int count = Count(what + " length", minItemSize);
        return itemType switch
        {
            GgufValueType.UInt8 => Take(count, what).ToArray(),
            GgufValueType.Int8 => MemoryMarshal.Cast<byte, sbyte>(Take(count, what)).ToArray(),
            GgufValueType.Bool => Take(count, what).ToArray().Select(b => b != 0).ToArray(),
            GgufValueType.UInt16 => Primitives<ushort>(count, what),
            GgufValueType.Int16 => Primitives<short>(count, what),
            GgufValueType.UInt32 => Primitives<uint>(count, what),
            GgufValueType.Int32 => Primitives<int>(count, what),
            GgufValueType.Float32 => Primitives<float>(count, what),
            GgufValueType.UInt64 => Primitives<ulong>(count, what),
            GgufValueType.Int64 => Primitives<long>(count, what),
            GgufValueType.Float64 => Primitives<double>(count, what),
            _ => Items(itemType, count, what, depth),
        };
    }

    // GGUF is little-endian and so is every platform .NET runs TorchSharp on, so a cast suffices.
    T[] Primitives<T>(int count, string what) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(Take((long)count * Unsafe.SizeOf<T>(), what)).ToArray();

    object Items(GgufValueType itemType, int count, string what, int depth)
    {
        if (itemType == GgufValueType.String)
        {
            var strings = new string[count];
            for (int i = 0; i < count; i++) strings[i] = ReadString(what);
            return strings;
        }
        var arrays = new object[count];
        for (int i = 0; i < count; i++) arrays[i] = ReadArray(what, depth + 1);
        return arrays;
    }
}
