using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Rollout.Models.Checkpoints.Gguf;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

/// <summary>A valid GGUF after aimed damage; <see cref="MustRefuse"/> where the damage leaves no reading but refusal.</summary>
public sealed record GgufMutation(byte[] Bytes, string Damage, bool MustRefuse = false)
{
    public override string ToString() => $"{Damage} ({Bytes.Length} bytes{(MustRefuse ? ", refusal required" : "")})";
}

/// <summary>
/// Small valid GGUFs (every metadata kind, plain tensors of four types and ranks; v1, v2 and v3, default and
/// explicit alignment) and damage aimed at their header's numbers and names: counts, lengths, value
/// and tensor types, ranks, dimensions, offsets, the alignment.
/// </summary>
public static class GgufMutations
{
    internal static readonly byte[][] Valid = [Build(version: 3, alignment: 32), Build(version: 1, alignment: 32), Build(version: 2, alignment: 8)];

    internal static readonly GgufDeclaration[] Layouts = Valid.Select(GgufDeclaration.Parse).ToArray();

    /// <summary>Values that make counts, lengths, dimensions and offsets absurd where they land.</summary>
    internal static readonly ulong[] Extremes =
        [0, 1, 2, 3, 4, 0x7F, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, uint.MaxValue, 1UL << 32, 1UL << 62, long.MaxValue, 1UL << 63, ulong.MaxValue];

    public static Arbitrary<GgufMutation> Mutations() =>
        Gen.Choose(0, Valid.Length - 1)
            .SelectMany(file => Gen.Frequency(
                (4, FieldEdits(file)),
                (2, Shapes(file)),
                (1, DuplicateNames(file)),
                (1, HeaderBitFlips(file))))
            .ToArbitrary();

    /// <summary>One to three numbers of the header, each set to a value chosen for what it counts.</summary>
    static Gen<GgufMutation> FieldEdits(int file)
    {
        var layout = Layouts[file];
        var edit = Gen.Elements(layout.Fields.ToArray()).SelectMany(field => ValueFor(field, layout).Select(value => (Field: field, Value: value)));
        return Gen.Choose(1, 3).SelectMany(n => edit.ListOf(n)).Select(edits =>
        {
            var bytes = (byte[])Valid[file].Clone();
            foreach (var (field, value) in edits)
                Write(bytes, field, value);
            return new GgufMutation(bytes, $"v{layout.Version}: " + string.Join("; ", edits.Select(e => $"{e.Field.What} {e.Field.Value} -> {e.Value}")));
        });
    }

    static Gen<ulong> ValueFor(GgufField field, GgufDeclaration layout)
    {
        var near = Gen.Choose(-3, 3).Select(d => field.Value + (ulong)(long)d);
        return field.Kind switch
        {
            GgufFieldKind.Count => Gen.OneOf(Gen.Elements(Extremes), near),
            GgufFieldKind.ValueType => Gen.OneOf(Gen.Choose(0, 14).Select(t => (ulong)t), Gen.Elements<ulong>(255, uint.MaxValue)),
            GgufFieldKind.Alignment => Gen.Elements<ulong>(0, 1, 3, 4, 8, 16, 24, 32, 64, 1UL << 20, 1UL << 31, uint.MaxValue),
            GgufFieldKind.Rank => Gen.Elements<ulong>(0, 1, 2, 3, 4, 5, uint.MaxValue),
            GgufFieldKind.Dimension => Dimension(field.Value),
            GgufFieldKind.TensorType => Gen.OneOf(Gen.Choose(0, 40).Select(t => (ulong)t), Gen.Elements<ulong>(uint.MaxValue)),
            _ => Gen.OneOf(
                Gen.Elements(layout.Tensors.Select(t => t.Offset).ToArray()),
                Gen.Elements(1UL, layout.Alignment, 2UL * layout.Alignment, 0UL - layout.Alignment).Select(d => field.Value + d),
                Gen.Elements(Extremes)),
        };
    }

    static Gen<ulong> Dimension(ulong original) =>
        Gen.Elements<ulong>(0UL, 1UL, 2UL, original - 1, original + 1, 1UL << 31, uint.MaxValue, 1UL << 32, 3_037_000_500UL, 1UL << 62, long.MaxValue, 1UL << 63, ulong.MaxValue);

    /// <summary>Every dimension of one tensor at once, so empty tensors of overflowing extent and overflowing products turn up.</summary>
    static Gen<GgufMutation> Shapes(int file)
    {
        var layout = Layouts[file];
        var dimensions = layout.Fields.Where(f => f.Kind == GgufFieldKind.Dimension).ToArray();
        return from tensor in Gen.Elements(layout.Tensors.Select(t => t.Name).ToArray())
               let fields = dimensions.Where(f => f.What.EndsWith($"of '{tensor}'", StringComparison.Ordinal)).ToArray()
               from values in Gen.CollectToArray(fields, f => Dimension(f.Value))
               select Apply(file, fields.Zip(values).ToArray(), $"dimensions of '{tensor}' -> [{string.Join(", ", values)}]");
    }

    /// <summary>One key or tensor name copied over another of the same length: a duplicate no reading can resolve.</summary>
    static Gen<GgufMutation> DuplicateNames(int file)
    {
        var layout = Layouts[file];
        var pairs = new[] { "length of metadata key", "length of name of tensor" }
            .Select(prefix => layout.Fields.Where(f => f.What.StartsWith(prefix, StringComparison.Ordinal)).ToArray())
            .SelectMany(names => from a in names from b in names where a != b && a.Value == b.Value select (From: a, To: b))
            .ToArray();
        return Gen.Elements(pairs).Select(pair =>
        {
            var bytes = (byte[])Valid[file].Clone();
            int length = (int)pair.From.Value;
            Array.Copy(bytes, pair.From.Position + pair.From.Width, bytes, pair.To.Position + pair.To.Width, length);
            return new GgufMutation(bytes, $"v{layout.Version}: {pair.To.What[10..]} overwritten with {pair.From.What[10..]}", MustRefuse: true);
        });
    }

    static Gen<GgufMutation> HeaderBitFlips(int file)
    {
        var layout = Layouts[file];
        return Gen.Zip(Gen.Choose(0, (int)layout.DataStart - 1), Gen.Choose(0, 7)).NonEmptyListOf().Select(flips =>
        {
            var bytes = (byte[])Valid[file].Clone();
            foreach (var (position, bit) in flips)
                bytes[position] ^= (byte)(1 << bit);
            return new GgufMutation(bytes, $"v{layout.Version}: flipped " + string.Join(", ", flips.Select(f => $"[{f.Item1}] bit {f.Item2}")));
        });
    }

    static GgufMutation Apply(int file, (GgufField Field, ulong Value)[] edits, string damage)
    {
        var bytes = (byte[])Valid[file].Clone();
        foreach (var (field, value) in edits)
            Write(bytes, field, value);
        return new GgufMutation(bytes, $"v{Layouts[file].Version}: {damage}");
    }

    // A value wider than its field keeps its low bytes, as a hostile writer's would.
    static void Write(byte[] bytes, GgufField field, ulong value)
    {
        Span<byte> wide = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(wide, value);
        wide[..field.Width].CopyTo(bytes.AsSpan(field.Position));
    }

    static byte[] Build(int version, uint alignment)
    {
        using var temp = new TempFolder();
        using var scope = NewDisposeScope();
        var writer = new GgufWriter(version, alignment);
        writer.AddMetadata("general.architecture", "llama");
        writer.AddMetadata("llama.block_count", 2u);
        writer.AddMetadata("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        // Keys of one length, so a copied key makes a duplicate.
        writer.AddMetadata("tokenizer.ggml.tokens", new[] { "<unk>", "<s>", "</s>", "▁a", "b" });
        writer.AddMetadata("tokenizer.ggml.scores", new[] { 0f, 0f, 0f, -1f, -2f });
        writer.AddMetadata("big", ulong.MaxValue);
        writer.AddMetadata("nested", new object[] { new[] { 1, 2 }, new[] { "x", "yz" } });
        // Names of one length, so a copied name makes a duplicate.
        writer.AddTensor("weight.a", randn(4, 3));
        writer.AddTensor("weight.b", randn(5).to_type(ScalarType.Float16));
        // Three and four dimensions: an empty tensor can then have an extent past 2^63.
        writer.AddTensor("weight.c", ones(3, 1, 2, dtype: ScalarType.Int8));
        writer.AddTensor("weight.d", randn(1, 2, 1, 2).to_type(ScalarType.BFloat16));
        string path = temp.File("valid.gguf");
        writer.Write(path);
        return File.ReadAllBytes(path);
    }
}
