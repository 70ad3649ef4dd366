using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

/// <summary>A tensor to write: its dtype, shape and seed for its bytes.</summary>
public sealed record TensorSpec(string Name, ScalarType DType, long[] Shape, int Seed)
{
    public override string ToString() => $"{Name}:{DType}[{string.Join(",", Shape)}]";
}

/// <summary>Tensors to write in one go; names are distinct.</summary>
public sealed record TensorSet(TensorSpec[] Tensors, long MaxShardBytes)
{
    public override string ToString() => $"max {MaxShardBytes} B: {string.Join(" ", (object[])Tensors)}";
}

/// <summary>What a loader must do with a damaged file beyond loading it as declared or refusing it.</summary>
public enum Required
{
    LoadOrRefusal,
    Load,
    Refusal,
}

/// <summary>The bytes of a valid file after a truncation or overwrites, and what the damage leaves a loader free to do.</summary>
public sealed record CorruptedFile(byte[] Bytes, string Damage, Required Required = Required.LoadOrRefusal)
{
    public override string ToString() => $"{Damage} ({Bytes.Length} bytes, {Required} required)";
}

/// <summary>A generated header, often hostile, followed by a data buffer.</summary>
public sealed record HostileHeader(string Json, long DataLength)
{
    public override string ToString() => $"{Json} + {DataLength} data bytes";
}

/// <summary>Runs a property with <see cref="SafetensorsGenerators"/> and a bound that keeps the suite fast.</summary>
public sealed class SafetensorsPropertyAttribute : PropertyAttribute
{
    public SafetensorsPropertyAttribute()
    {
        Arbitrary = [typeof(SafetensorsGenerators)];
        MaxTest = 150;
    }
}

public static class SafetensorsGenerators
{
    static readonly (string Name, ScalarType Type, int Size)[] DTypes =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>Shapes from scalar through empty to a few hundred elements.</summary>
    static Gen<long[]> SmallShape =>
        Gen.Choose(0, 3).SelectMany(rank => Gen.Choose(0, 6).Select(d => (long)d).ArrayOf(rank));

    public static Arbitrary<TensorSet> TensorSets() =>
        (from count in Gen.Choose(0, 6)
         from specs in Gen.CollectToArray(Enumerable.Range(0, count), i =>
             from dtype in Gen.Elements(DTypes)
             from shape in SmallShape
             from seed in Gen.Choose(0, int.MaxValue)
             select new TensorSpec($"t{i}.weight", dtype.Type, shape, seed))
         from maxShard in Gen.Elements(1L, 8L, 64L, 256L, 1L << 20)
         select new TensorSet(specs, maxShard)).ToArbitrary();

    /// <summary>
    /// A header that is valid, in the layout <see cref="RawSafetensors"/> writes, sometimes padded with
    /// spaces as <see cref="Rollout.Models.Checkpoints.Safetensors.SafetensorsWriter"/> pads it.
    /// </summary>
    static Gen<(string Json, long DataLength)> ValidHeader =>
        from count in Gen.Choose(0, 4)
        from entries in Gen.CollectToArray(Enumerable.Range(0, count), i =>
            Gen.Zip(Gen.Elements(DTypes), SmallShape, (d, s) => (Name: $"w{i}", d.Name, Shape: s, Bytes: d.Size * s.Aggregate(1L, (a, b) => a * b))))
        from metadata in Gen.Elements("", "\"__metadata__\":{\"format\":\"pt\"},")
        from padding in Gen.Choose(0, 7)
        let layout = Layout(entries, metadata)
        select (layout.Json + new string(' ', padding), layout.DataLength);

    static (string Json, long DataLength) Layout((string Name, string DType, long[] Shape, long Bytes)[] entries, string metadata)
    {
        var json = new StringBuilder("{").Append(metadata);
        long offset = 0;
        foreach (var (name, dtype, shape, bytes) in entries)
        {
            json.Append($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{offset},{offset + bytes}]}},");
            offset += bytes;
        }
        if (json[^1] == ',')
            json.Length--;
        return (json.Append('}').ToString(), offset);
    }

    public static Arbitrary<CorruptedFile> CorruptedFiles()
    {
        var valid = ValidHeader.Select(v => (Bytes: RawSafetensors.Build(v.Json, v.DataLength), DataStart: (int)(8 + Encoding.UTF8.GetByteCount(v.Json))));
        // Valid files tile their data buffer exactly, so losing any byte loses part of the header or of a tensor.
        var truncated =
            from file in valid
            from length in Gen.OneOf<int>(file.DataStart < file.Bytes.Length
                ? [Gen.Choose(0, 7), Gen.Choose(8, file.DataStart - 1), Gen.Choose(file.DataStart, file.Bytes.Length - 1)]
                : [Gen.Choose(0, 7), Gen.Choose(8, file.DataStart - 1)])
            select new CorruptedFile(file.Bytes[..length], $"truncated to {length}", Required.Refusal);
        var anywhere =
            from file in valid
            from edits in Gen.Zip(Gen.Choose(0, file.Bytes.Length - 1), InterestingByte).NonEmptyListOf()
            select Overwrite(file.Bytes, edits);
        var flipped =
            from file in valid
            from flips in Gen.Zip(Gen.Choose(0, file.DataStart - 1), Gen.Choose(0, 7)).NonEmptyListOf()
            select Flip(file.Bytes, flips);
        // Damage confined to the data buffer must never be noticed: a reader checks layout, not values.
        var inData =
            from file in valid.Where(f => f.DataStart < f.Bytes.Length)
            from edits in Gen.Zip(Gen.Choose(file.DataStart, file.Bytes.Length - 1), InterestingByte).NonEmptyListOf()
            select Overwrite(file.Bytes, edits) with { Required = Required.Load };
        // A shorter header cuts the JSON, or moves padding into the data buffer and so leaves bytes no tensor
        // covers; a longer one swallows data (whose first byte, 7, is no JSON) or runs past the end.
        var relengthed =
            from file in valid
            let length = (long)(file.DataStart - 8)
            from value in Gen.OneOf(
                Gen.Choose(-9, 9).Where(d => d != 0 && length + d >= 0).Select(d => (ulong)(length + d)),
                Gen.Elements<ulong>(0UL, (ulong)file.Bytes.Length - 8, (ulong)file.Bytes.Length, 100_000_000UL, 100_000_001UL,
                    1UL << 32, long.MaxValue, 1UL << 63, ulong.MaxValue))
            where value != (ulong)length
            select Relength(file.Bytes, value);
        // A dtype swapped for another of its size and name length leaves a valid file that must now read as the new type.
        var retyped =
            from file in valid
            let swaps = SameSizeDTypes.Where(s => file.Bytes.AsSpan(0, file.DataStart).IndexOf(DTypeField(s.From)) >= 0).ToArray()
            where swaps.Length > 0
            from swap in Gen.Elements(swaps)
            select Retype(file.Bytes, file.DataStart, swap.From, swap.To);
        return Gen.OneOf(truncated, anywhere, flipped, inData, relengthed, retyped).ToArbitrary();
    }

    static readonly (string From, string To)[] SameSizeDTypes =
        [("F32", "I32"), ("I32", "F32"), ("F16", "I16"), ("I16", "F16"), ("F64", "I64"), ("I64", "F64"), ("U8", "I8"), ("I8", "U8")];

    static byte[] DTypeField(string dtype) => Encoding.UTF8.GetBytes($"\"dtype\":\"{dtype}\"");

    static CorruptedFile Retype(byte[] valid, int dataStart, string from, string to)
    {
        var bytes = (byte[])valid.Clone();
        int at = bytes.AsSpan(0, dataStart).IndexOf(DTypeField(from));
        DTypeField(to).CopyTo(bytes, at);
        return new CorruptedFile(bytes, $"first {from} retyped to {to}", Required.Load);
    }

    static CorruptedFile Flip(byte[] valid, List<(int Position, int Bit)> flips)
    {
        var bytes = (byte[])valid.Clone();
        foreach (var (position, bit) in flips)
            bytes[position] ^= (byte)(1 << bit);
        return new CorruptedFile(bytes, "flipped " + string.Join(", ", flips.Select(f => $"[{f.Position}] bit {f.Bit}")));
    }

    static CorruptedFile Relength(byte[] valid, ulong headerLength)
    {
        var bytes = (byte[])valid.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        return new CorruptedFile(bytes, $"header length set to {headerLength}", Required.Refusal);
    }

    static Gen<byte> InterestingByte =>
        Gen.OneOf(
            Gen.Elements("{}[]\":,-019e. \\u".Select(c => (byte)c).ToArray()),
            Gen.Elements<byte>(0, 0x7f, 0x80, 0xc0, 0xff),
            Gen.Choose(0, 255).Select(b => (byte)b));

    static CorruptedFile Overwrite(byte[] valid, List<(int Position, byte Value)> edits)
    {
        var bytes = (byte[])valid.Clone();
        foreach (var (position, value) in edits)
            bytes[position] = value;
        return new CorruptedFile(bytes, "overwrote " + string.Join(", ", edits.Select(e => $"[{e.Position}]={e.Value:x2}")));
    }

    static Gen<string> Number =>
        Gen.Frequency(
            (6, Gen.Choose(0, 8).Select(n => n.ToString())),
            (1, Gen.Elements("-1", "-8", "4294967296", "9223372036854775807", "9223372036854775808",
                "18446744073709551615", "1e30", "1.5", "-0", "2147483648", "\"4\"", "null", "[]")));

    /// <summary>One entry, usually consistent with its neighbours; returns its JSON and where the next one begins.</summary>
    static Gen<(string Json, long Next)> HostileEntry(string name, long offset) =>
        from dtype in Gen.Frequency(
            (8, Gen.Elements(DTypes).Select(d => (d.Name, d.Size))),
            (1, Gen.Elements("F8_E4M3", "U64", "f32", "", "C64", "BF16 ").Select(n => (Name: n, Size: 1))))
        from shape in Gen.Frequency(
            (8, SmallShape.Select(s => (Text: string.Join(",", s), Bytes: dtype.Size * s.Aggregate(1L, (a, b) => a * b)))),
            (2, Gen.ListOf(Number, 4).Select(s => (Text: string.Join(",", s), Bytes: 4L))),
            // Empty, yet with an extent libtorch cannot stride over (or, for one-byte types, just can).
            (1, Gen.Elements("0,4294967296,4294967296", "4294967296,4294967296,0", "0,9223372036854775807", "3037000500,3037000500,0")
                .Select(t => (Text: t, Bytes: 0L))),
            // MaxRank and one past it.
            (1, Gen.Elements(64, 65).Select(rank => (Text: string.Join(",", Enumerable.Repeat("1", rank)), Bytes: (long)dtype.Size))))
        from begin in Gen.Frequency((6, Gen.Constant(offset.ToString())), (1, Number))
        from end in Gen.Frequency((6, Gen.Constant((offset + shape.Bytes).ToString())), (1, Number))
        from form in Gen.Frequency(
            (12, Gen.Constant(0)), (1, Gen.Constant(1)), (1, Gen.Constant(2)), (1, Gen.Constant(3)), (1, Gen.Constant(4)))
        select (form switch
        {
            1 => $"\"{name}\":{{\"dtype\":\"{dtype.Name}\",\"shape\":[{shape.Text}]}}",
            2 => $"\"{name}\":{{\"dtype\":\"{dtype.Name}\",\"shape\":[{shape.Text}],\"data_offsets\":[{begin},{end}],\"extra\":1}}",
            3 => $"\"{name}\":[{begin},{end}]",
            4 => $"\"{name}\":{{\"dtype\":\"{dtype.Name}\",\"shape\":[{shape.Text}],\"data_offsets\":[{begin}]}}",
            _ => $"\"{name}\":{{\"dtype\":\"{dtype.Name}\",\"shape\":[{shape.Text}],\"data_offsets\":[{begin},{end}]}}",
        }, offset + shape.Bytes);

    static Gen<(ImmutableList<string> Entries, long End)> HostileEntries(string[] names, int index, long offset) =>
        index == names.Length
            ? Gen.Constant((ImmutableList<string>.Empty, offset))
            : from entry in HostileEntry(names[index], offset)
              from rest in HostileEntries(names, index + 1, entry.Next)
              select (rest.Entries.Insert(0, entry.Json), rest.End);

    public static Arbitrary<HostileHeader> HostileHeaders() =>
        (from count in Gen.Choose(0, 5)
         // "\u0061" is "a" escaped (a duplicate only after unescaping); "\ud800" a lone surrogate.
         from names in Gen.Elements("a", "b", "c", "d", "e", "f", "__metadata__", "ü", "\\u0061", "\\ud800").ArrayOf(count)
         from entries in HostileEntries(names, 0, 0)
         from dataLength in Gen.Frequency((4, Gen.Constant(entries.End)), (1, Gen.Choose(0, 80).Select(n => (long)n)))
         select new HostileHeader("{" + string.Join(",", entries.Entries) + "}", dataLength)).ToArbitrary();
}
