using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.Models.Tests.Safetensors;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

/// <summary>
/// Damaged copies of small valid GGUFs must load exactly what they declare (as the test reads the damaged
/// bytes itself) or be refused with <see cref="CheckpointFormatException"/>, within
/// <see cref="HostileLoad.Bound"/>: no other exception, no crash, no hang, no tensor read from bytes it does not name.
/// </summary>
public class GgufFileHostileTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    /// <summary>One tensor as <see cref="GgufFile"/> listed and read it; a quantized one's read is refused.</summary>
    sealed record LoadedTensor(string Name, long[] Dimensions, string TypeName, TensorContents? Contents, CheckpointFormatException? ReadRefusal);

    sealed record LoadedGguf(int Version, Dictionary<string, object> Metadata, List<LoadedTensor> Tensors);

    /// <summary>Every cut from the first byte to the last: the header, the padding before the data, each tensor, the closing padding.</summary>
    [Fact]
    public void EveryTruncationLoadsAsDeclaredOrIsRefused()
    {
        for (int file = 0; file < GgufMutations.Valid.Length; file++)
        {
            byte[] valid = GgufMutations.Valid[file];
            var layout = GgufMutations.Layouts[file];
            long dataEnd = layout.Tensors.Max(t => layout.DataStart + (long)t.Offset + layout.Contents(t)!.Value.Bytes.Length);
            for (int length = 0; length < valid.Length; length++)
            {
                bool loaded = LoadsAsDeclaredOrIsRefused(valid[..length]);
                // Only the padding after the last tensor is free to lose.
                Assert.True(loaded == (length >= dataEnd), $"v{layout.Version} cut to {length} bytes (tensor data ends at {dataEnd}): loaded {loaded}");
            }
        }
    }

    /// <summary>
    /// An empty tensor whose extent passes 2^63 holds no bytes, yet libtorch cannot lay it out: accepted by
    /// Open, it would fail Read with libtorch's untyped error. Aimed damage reaches it only now and then.
    /// </summary>
    [Fact]
    public void EmptyTensorOfOverflowingExtentIsRefused()
    {
        byte[] bytes = (byte[])GgufMutations.Valid[0].Clone();
        var dimensions = GgufMutations.Layouts[0].Fields.Where(f => f.What.EndsWith("of 'weight.c'", StringComparison.Ordinal) && f.Kind == GgufFieldKind.Dimension);
        foreach (var (field, value) in dimensions.Zip([0UL, 1UL << 32, 1UL << 32]))
            BitConverter.TryWriteBytes(bytes.AsSpan(field.Position, field.Width), value);

        string path = temp.File("extent.gguf");
        File.WriteAllBytes(path, bytes);

        var outcome = HostileLoad.Run(() => Load(path));
        Assert.Contains("tensor 'weight.c' of dimensions [0, 4294967296, 4294967296] is too large to address", outcome.Refusal?.Message);
    }

    [Property(Arbitrary = [typeof(GgufMutations)], MaxTest = 500)]
    public Property AimedDamageLoadsAsDeclaredOrIsRefused(GgufMutation mutation)
    {
        bool loaded = LoadsAsDeclaredOrIsRefused(mutation.Bytes);
        Assert.False(mutation.MustRefuse && loaded, "a duplicated key or tensor name was accepted");
        return Prop.Classify(true, loaded, "loaded");
    }

    [Property(MaxTest = 200)]
    public Property OverwrittenBytesLoadAsDeclaredOrAreRefused(NonNegativeInt file, NonNegativeInt[] positions, byte[] values)
    {
        byte[] bytes = (byte[])GgufMutations.Valid[file.Get % GgufMutations.Valid.Length].Clone();
        for (int i = 0; i < Math.Min(positions.Length, values.Length); i++)
            bytes[positions[i].Get % bytes.Length] = values[i];
        return Prop.Classify(true, LoadsAsDeclaredOrIsRefused(bytes), "loaded");
    }

    /// <summary>Absurd numbers at any byte, aligned to a field or not.</summary>
    [Property(MaxTest = 200)]
    public Property AbsurdNumbersLoadAsDeclaredOrAreRefused(NonNegativeInt file, NonNegativeInt position, NonNegativeInt extreme, bool narrow)
    {
        byte[] bytes = (byte[])GgufMutations.Valid[file.Get % GgufMutations.Valid.Length].Clone();
        int width = narrow ? 4 : 8;
        int at = position.Get % (bytes.Length - width);
        BitConverter.GetBytes(GgufMutations.Extremes[extreme.Get % GgufMutations.Extremes.Length]).AsSpan(0, width).CopyTo(bytes.AsSpan(at));
        return Prop.Classify(true, LoadsAsDeclaredOrIsRefused(bytes), "loaded");
    }

    /// <summary>
    /// The properties check contents only for files that load and refusals only for those that do not;
    /// aimed damage that drifted to one outcome would leave half of that unchecked while still passing.
    /// </summary>
    [Fact]
    public void AimedDamageBothLoadsAndIsRefused()
    {
        var mutations = Gen.Sample(GgufMutations.Mutations().Generator, size: 50, seed: new Rnd(3), numberOfSamples: 200);
        int loaded = mutations.Count(m => LoadsAsDeclaredOrIsRefused(m.Bytes));
        Assert.InRange(loaded, 20, 180);
    }

    /// <returns>Whether the file was loaded.</returns>
    bool LoadsAsDeclaredOrIsRefused(byte[] bytes)
    {
        string path = temp.File($"{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        try
        {
            var outcome = HostileLoad.Run(() => Load(path));
            if (outcome.Loaded is not { } loaded)
                return false;
            AssertLoadedAsDeclared(GgufDeclaration.Parse(bytes), loaded);
            return true;
        }
        finally
        {
            File.Delete(path);
        }
    }

    static LoadedGguf Load(string path)
    {
        using var scope = NewDisposeScope();
        using var file = GgufFile.Open(path);
        var tensors = file.Tensors.Select(info =>
        {
            try
            {
                var tensor = file.Read(info.Name);
                var contents = new TensorContents(info.Name, tensor.dtype, tensor.shape, tensor.bytes.ToArray());
                return new LoadedTensor(info.Name, [.. info.Dimensions], info.TypeName, contents, null);
            }
            catch (CheckpointFormatException e)
            {
                return new LoadedTensor(info.Name, [.. info.Dimensions], info.TypeName, null, e);
            }
        }).ToList();
        return new LoadedGguf(file.Version, new Dictionary<string, object>(file.Metadata), tensors);
    }

    static void AssertLoadedAsDeclared(GgufDeclaration declared, LoadedGguf loaded)
    {
        Assert.Equal(declared.Version, loaded.Version);
        // Sorted, not deduplicated: a duplicate key the loader folded into one would show as a missing one.
        Assert.Equal(declared.Metadata.Select(m => m.Key).Order(StringComparer.Ordinal), loaded.Metadata.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in declared.Metadata)
        {
            Assert.Equal(value.GetType(), loaded.Metadata[key].GetType());
            Assert.Equal(value, loaded.Metadata[key]);
        }

        Assert.Equal(declared.Tensors.Select(t => t.Name), loaded.Tensors.Select(t => t.Name));
        foreach (var (expected, actual) in declared.Tensors.Zip(loaded.Tensors))
        {
            Assert.Equal(expected.Dimensions.Select(d => (long)d), actual.Dimensions);
            Assert.Equal(GgufDeclaration.TypeName(expected.Type), actual.TypeName);
            if (declared.Contents(expected) is not { } contents)
            {
                Assert.True(actual.ReadRefusal is not null, $"quantized '{actual.Name}' was read");
                continue;
            }
            Assert.True(actual.Contents is not null, $"'{actual.Name}' was refused: {actual.ReadRefusal?.Message}");
            Assert.Equal(contents.DType, actual.Contents.DType);
            Assert.Equal(contents.Shape, actual.Contents.Shape);
            Assert.Equal(contents.Bytes, actual.Contents.Bytes);
        }
    }
}
