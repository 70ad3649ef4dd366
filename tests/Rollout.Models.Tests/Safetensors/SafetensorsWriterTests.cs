using Rollout.Models.Checkpoints.Safetensors;
using Rollout.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

public class SafetensorsWriterTests
{
    /// <summary>One tensor of every supported dtype, with awkward values: NaN payloads, subnormals, extremes.</summary>
    static Dictionary<string, Tensor> EveryDType()
    {
        var floats = tensor(new[] { 0f, -0f, 1.5f, float.NaN, float.PositiveInfinity, float.Epsilon, -3.25e-5f, 65504f });
        var nanWithPayload = BitConverter.Int32BitsToSingle(0x7fc0_1234);
        return new()
        {
            ["f64"] = tensor(new[] { double.MaxValue, double.Epsilon, -0d, double.NaN }, [2, 2]),
            ["f32"] = tensor(new[] { nanWithPayload, float.MinValue, 1e-40f, 7f, 0f, -1f }, [3, 2]),
            ["f16"] = floats.to_type(ScalarType.Float16),
            ["bf16"] = floats.to_type(ScalarType.BFloat16).reshape(2, 2, 2),
            ["i64"] = tensor(new[] { long.MinValue, long.MaxValue, 0L }),
            ["i32"] = tensor(new[] { int.MinValue, int.MaxValue, -1 }),
            ["i16"] = tensor(new short[] { short.MinValue, short.MaxValue }),
            ["i8"] = tensor(new sbyte[] { sbyte.MinValue, sbyte.MaxValue, 0 }),
            ["u8"] = tensor(new byte[] { 0, 128, 255 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.5f),
            ["empty"] = zeros([0, 4], ScalarType.BFloat16),
        };
    }

    static void AssertSameBits(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.contiguous().bytes.ToArray(), actual.bytes.ToArray());
    }

    [Fact]
    public void EveryDTypeRoundTripsBitExactly()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var tensors = EveryDType();
        string path = directory.File("all.safetensors");

        SafetensorsWriter.Write(path, tensors);

        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Metadata);
        Assert.Equal(tensors.Keys.Order(), file.TensorNames.Order());
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(expected.dtype, file.Describe(name).DType);
            AssertSameBits(expected, file.Read(name));
        }
    }

    [Fact]
    public void EveryDTypeRoundTripsThroughShards()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var tensors = EveryDType();

        SafetensorsWriter.WriteSharded(directory.Path, tensors, maxShardBytes: 24);

        using var checkpoint = SafetensorsCheckpoint.Open(directory.Path);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), checkpoint.TensorNames);
        foreach (var (name, expected) in tensors)
            AssertSameBits(expected, checkpoint.Read(name));
        Assert.True(Directory.GetFiles(directory.Path, "model-*-of-*.safetensors").Length > 1);
    }

    [Fact]
    public void ShardedIndexFollowsTheHuggingFaceLayout()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var tensors = new Dictionary<string, Tensor>
        {
            ["a"] = zeros(4), // 16 bytes
            ["b"] = zeros(2), // 8 bytes: fits beside a
            ["c"] = zeros(8), // 32 bytes: over the limit alone, so its own shard
            ["d"] = zeros(1, dtype: ScalarType.Float16),
        };

        SafetensorsWriter.WriteSharded(directory.Path, tensors, maxShardBytes: 24);

        string[] shards = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"];
        Assert.Equal([.. shards, SafetensorsCheckpoint.IndexFileName], Directory.GetFiles(directory.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var index = System.Text.Json.JsonDocument.Parse(File.ReadAllText(directory.File(SafetensorsCheckpoint.IndexFileName)));
        Assert.Equal(16 + 8 + 32 + 2, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(new Dictionary<string, string?> { ["a"] = shards[0], ["b"] = shards[0], ["c"] = shards[1], ["d"] = shards[2] }, weightMap);
    }

    [Fact]
    public void MetadataRoundTrips()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["step"] = "12", ["note"] = "üñí \"quoted\" \n" };
        string path = directory.File("m.safetensors");

        SafetensorsWriter.Write(path, [new("w", ones(2))], metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
    }

    [Fact]
    public void RewritingTheTransformersFileReproducesItByteForByte()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        string original = Path.Combine(TestPaths.RepoFixtures, "hf", "qwen2", "model.safetensors");
        string copy = directory.File("copy.safetensors");

        using (var file = SafetensorsFile.Open(original))
            SafetensorsWriter.Write(copy, file.TensorNames.Select(n => KeyValuePair.Create(n, file.Read(n))), file.Metadata);

        Assert.Equal(File.ReadAllBytes(original), File.ReadAllBytes(copy));
    }

    [Fact]
    public void OutputIsDeterministicAndAligned()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var tensors = EveryDType();
        SafetensorsWriter.Write(directory.File("1.safetensors"), tensors);
        SafetensorsWriter.Write(directory.File("2.safetensors"), tensors.Reverse());

        byte[] bytes = File.ReadAllBytes(directory.File("1.safetensors"));
        Assert.Equal(bytes, File.ReadAllBytes(directory.File("2.safetensors")));
        long headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLength % 8);
        Assert.Contains(bytes[8 + headerLength - 1], "} "u8.ToArray());
    }

    [Fact]
    public void NonContiguousTensorsAreWrittenInLogicalOrder()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var transposed = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t();
        SafetensorsWriter.Write(directory.File("t.safetensors"), [new("t", transposed)]);

        using var file = SafetensorsFile.Open(directory.File("t.safetensors"));
        Assert.Equal(transposed.contiguous().data<float>().ToArray(), file.Read("t").data<float>().ToArray());
    }

    [Fact]
    public void RefusesWhatSafetensorsCannotHold()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        string path = directory.File("x.safetensors");
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Write(path, [new("a", ones(1)), new("a", ones(1))])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Write(path, [new("__metadata__", ones(1))])).Message);
        Assert.Contains("ComplexFloat32", Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Write(path, [new("c", ones(1, dtype: ScalarType.ComplexFloat32))])).Message);
        Assert.Empty(Directory.GetFiles(directory.Path));
    }
}
