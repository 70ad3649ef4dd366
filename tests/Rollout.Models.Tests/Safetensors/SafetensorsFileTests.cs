using System.Buffers.Binary;
using System.Text;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

public class SafetensorsFileTests
{
    static string Fixture(string model, string file) => Path.Combine(TestPaths.RepoFixtures, "hf", model, file);

    [Fact]
    public void ReadsTheModelTransformersWrote()
    {
        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Fixture("qwen2", "model.safetensors"));

        Assert.Equal("pt", file.Metadata["format"]);
        var info = file.Describe("model.embed_tokens.weight");
        Assert.Equal(ScalarType.Float32, info.DType);
        Assert.Equal([256L, 64], info.Shape);

        var embed = file.Read("model.embed_tokens.weight");
        Assert.Equal(ScalarType.Float32, embed.dtype);
        Assert.Equal([256L, 64], embed.shape);
        Assert.Equal(DeviceType.CPU, embed.device_type);
        // Embeddings initialised by transformers are small, finite and not all equal.
        Assert.True(embed.isfinite().all().item<bool>());
        Assert.True(embed.std().item<float>() > 0);
    }

    [Fact]
    public void ReadsTheExpectedOutputsTransformersWrote()
    {
        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Fixture("qwen2", "expected.safetensors"));

        Assert.Equal(["input_ids", "logits"], file.TensorNames);
        var ids = file.Read("input_ids");
        Assert.Equal(ScalarType.Int64, ids.dtype);
        Assert.Equal([40L], ids.shape);
        Assert.True(ids.ge(0).all().item<bool>() && ids.lt(256).all().item<bool>());
        var logits = file.Read("logits");
        Assert.Equal(ScalarType.Float32, logits.dtype);
        Assert.Equal([40L, 256], logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Fact]
    public void ReadsEveryFixtureModelCompletely()
    {
        foreach (string directory in Directory.GetDirectories(Path.Combine(TestPaths.RepoFixtures, "hf")))
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(Path.Combine(directory, "model.safetensors"));
            Assert.NotEmpty(file.TensorNames);
            foreach (string name in file.TensorNames)
            {
                var info = file.Describe(name);
                var tensor = file.Read(name);
                Assert.Equal(info.DType, tensor.dtype);
                Assert.Equal(info.Shape, tensor.shape);
            }
        }
    }

    [Fact]
    public void UnknownNameIsAKeyNotFound()
    {
        using var file = SafetensorsFile.Open(Fixture("qwen2", "expected.safetensors"));
        Assert.Throws<KeyNotFoundException>(() => file.Describe("nope"));
        Assert.Throws<KeyNotFoundException>(() => file.Read("nope"));
    }

    [Fact]
    public void ReadAfterDisposeIsRefused()
    {
        var file = SafetensorsFile.Open(Fixture("qwen2", "expected.safetensors"));
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Read("logits"));
    }

    [Fact]
    public void CopiesLargeTensorsThroughSeveralViews()
    {
        using var scope = NewDisposeScope();
        var source = arange(0, 1001, dtype: ScalarType.Int32).reshape(7, 143);
        byte[] bytes = source.bytes.ToArray();
        var target = empty([7, 143], ScalarType.Int32);
        unsafe
        {
            fixed (byte* pointer = bytes)
                TensorBytes.CopyFrom(target, pointer, bytes.Length, maxChunkBytes: 40);
        }
        Assert.Equal(source.data<int>().ToArray(), target.data<int>().ToArray());

        using var stream = new MemoryStream();
        TensorBytes.CopyTo(source, stream, maxChunkBytes: 36);
        Assert.Equal(bytes, stream.ToArray());
    }

    // Hostile files: each must fail at Open with a message naming the file and what is wrong.

    static CheckpointFormatException Refused(byte[] bytes)
    {
        using var directory = new TempDirectory();
        string path = RawSafetensors.Write(directory, bytes);
        var error = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, error.Message);
        return error;
    }

    static CheckpointFormatException Refused(string header, long dataLength) => Refused(RawSafetensors.Build(header, dataLength));

    [Fact]
    public void EmptyFileIsRefused() =>
        Assert.Contains("too few", Refused([]).Message);

    [Fact]
    public void FileShorterThanTheLengthPrefixIsRefused() =>
        Assert.Contains("too few", Refused([1, 0, 0]).Message);

    [Fact]
    public void HeaderLengthBeyondTheFileIsRefused()
    {
        var bytes = RawSafetensors.Build("{}", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 3);
        Assert.Contains("past the end of the file", Refused(bytes).Message);
    }

    [Fact]
    public void HeaderLengthOverTheLimitIsRefused()
    {
        var bytes = RawSafetensors.Build("{}", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        Assert.Contains("limit", Refused(bytes).Message);
    }

    [Fact]
    public void HeaderThatIsNotUtf8IsRefused() =>
        Assert.Contains("UTF-8", Refused(RawSafetensors.Build([(byte)'{', 0xff, 0xfe, (byte)'}'], 0)).Message);

    [Fact]
    public void HeaderThatIsNotJsonIsRefused() =>
        Assert.Contains("not valid JSON", Refused("{\"w\": {\"dtype\": ", 0).Message);

    [Fact]
    public void HeaderThatIsAnArrayIsRefused() =>
        Assert.Contains("does not start with '{'", Refused("[]", 0).Message);

    [Fact]
    public void HeaderNestedTooDeeplyIsRefused() =>
        Assert.Contains("not valid JSON", Refused("{\"a\":" + new string('[', 5000) + new string(']', 5000) + "}", 0).Message);

    [Fact]
    public void EntryThatIsNotAnObjectIsRefused() =>
        Assert.Contains("tensor 'w': entry is a JSON Number", Refused("""{"w": 5}""", 0).Message);

    [Fact]
    public void EntryMissingAFieldIsRefused() =>
        Assert.Contains("tensor 'w': missing field 'data_offsets'", Refused("""{"w": {"dtype": "F32", "shape": [1]}}""", 4).Message);

    [Fact]
    public void EntryWithAnExtraFieldIsRefused() =>
        Assert.Contains("tensor 'w': unexpected field 'stride'",
            Refused("""{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "stride": [1]}}""", 4).Message);

    [Fact]
    public void EntryWithARepeatedFieldIsRefused() =>
        Assert.Contains("tensor 'w': field 'shape' appears twice",
            Refused("""{"w": {"dtype": "F32", "shape": [1], "shape": [1], "data_offsets": [0, 4]}}""", 4).Message);

    [Fact]
    public void UnknownDtypeIsRefusedByName() =>
        Assert.Contains("tensor 'w': unsupported dtype 'F8_E4M3'",
            Refused("""{"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}""", 4).Message);

    [Fact]
    public void NegativeDimensionIsRefused() =>
        Assert.Contains("tensor 'w': 'shape' holds the negative value -1",
            Refused("""{"w": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}}""", 16).Message);

    [Fact]
    public void FractionalDimensionIsRefused() =>
        Assert.Contains("tensor 'w': 'shape' holds 1.5",
            Refused("""{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}""", 4).Message);

    [Fact]
    public void DimensionBeyond64BitsIsRefused() =>
        Assert.Contains("tensor 'w': 'shape' holds 1e30",
            Refused("""{"w": {"dtype": "F32", "shape": [1e30], "data_offsets": [0, 4]}}""", 4).Message);

    [Fact]
    public void ShapeWhoseSizeOverflowsIsRefused() =>
        Assert.Contains("tensor 'w': shape [4294967296, 4294967296, 0] overflows",
            Refused("""{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 0], "data_offsets": [0, 0]}}""", 0).Message);

    [Fact]
    public void EmptyShapeWhoseExtentOverflowsIsRefused() =>
        Assert.Contains("tensor 'w': shape [0, 4294967296, 4294967296] overflows",
            Refused("""{"w": {"dtype": "F32", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}}""", 0).Message);

    [Fact]
    public void TooManyDimensionsAreRefused() =>
        Assert.Contains("tensor 'w': shape has 65 dimensions",
            Refused($$$"""{"w": {"dtype": "F32", "shape": [{{{string.Join(",", Enumerable.Repeat(1, 65))}}}], "data_offsets": [0, 4]}}""", 4).Message);

    [Fact]
    public void ShapeThatDisagreesWithTheByteSpanIsRefused() =>
        Assert.Contains("tensor 'w': shape [2, 3] of F16 needs 12 bytes but data_offsets span 16",
            Refused("""{"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 16]}}""", 16).Message);

    [Fact]
    public void OffsetsPastTheDataBufferAreRefused() =>
        Assert.Contains("tensor 'w': data_offsets end 1024 is past the data buffer (8 bytes)",
            Refused("""{"w": {"dtype": "U8", "shape": [1024], "data_offsets": [0, 1024]}}""", 8).Message);

    [Fact]
    public void OffsetsThatAreNotAPairAreRefused() =>
        Assert.Contains("tensor 'w': 'data_offsets' has 3 values",
            Refused("""{"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4, 8]}}""", 8).Message);

    [Fact]
    public void BeginAfterEndIsRefused() =>
        Assert.Contains("tensor 'w': data_offsets begin 8 is after end 4",
            Refused("""{"w": {"dtype": "U8", "shape": [4], "data_offsets": [8, 4]}}""", 8).Message);

    [Fact]
    public void OverlappingTensorsAreRefused()
    {
        var error = Refused("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 12);
        Assert.Contains("tensor 'b'", error.Message);
        Assert.Contains("overlap tensor 'a'", error.Message);
    }

    [Fact]
    public void HoleInTheDataBufferIsRefused() =>
        Assert.Contains("tensor 'b': hole of 4 bytes",
            Refused("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}""", 12).Message);

    [Fact]
    public void BytesAfterTheLastTensorAreRefused() =>
        Assert.Contains("4 bytes after the last tensor 'a'",
            Refused("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", 8).Message);

    [Fact]
    public void DuplicateNamesAreRefused() =>
        Assert.Contains("tensor 'a' appears twice",
            Refused("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8).Message);

    [Fact]
    public void MetadataThatIsNotAStringMapIsRefused() =>
        Assert.Contains("'__metadata__' entry 'layers' is not a string",
            Refused("""{"__metadata__": {"layers": 2}}""", 0).Message);

    [Fact]
    public void NameThatIsNotValidUnicodeIsRefused() =>
        Assert.Contains("not valid Unicode",
            Refused("""{"\ud800": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}""", 0).Message);

    [Fact]
    public void EmptyTensorsMayShareAnOffset()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        string path = RawSafetensors.Write(directory, RawSafetensors.Build(
            """{"a": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]}, "b": {"dtype": "I8", "shape": [], "data_offsets": [0, 1]}, "c": {"dtype": "BOOL", "shape": [0], "data_offsets": [1, 1]}}""", 1));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal([0L, 3], file.Read("a").shape);
        Assert.Equal(7, file.Read("b").item<sbyte>());
        Assert.Equal([0L], file.Read("c").shape);
    }
}
