using System.Text;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

public class GgufFileTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    static readonly Dictionary<string, object> AllKinds = new()
    {
        ["u8"] = (byte)200, ["i8"] = (sbyte)-100, ["u16"] = (ushort)60000, ["i16"] = (short)-30000,
        ["u32"] = 4_000_000_000u, ["i32"] = -2_000_000_000, ["f32"] = 1.5e-5f, ["bool"] = true,
        ["string"] = "héllo ▁wörld 😀", ["empty string"] = "",
        ["u64"] = ulong.MaxValue, ["i64"] = long.MinValue, ["f64"] = Math.PI,
        ["u8s"] = new byte[] { 1, 2, 255 }, ["i8s"] = new sbyte[] { -1, 0, 1 }, ["u16s"] = new ushort[] { 7 },
        ["i16s"] = new short[] { -7, 7 }, ["u32s"] = new uint[] { 1, uint.MaxValue }, ["i32s"] = new[] { 3, -3, 0 },
        ["f32s"] = new[] { 0.5f, -0.25f }, ["bools"] = new[] { true, false, true }, ["strings"] = new[] { "<s>", "", "▁a" },
        ["u64s"] = new ulong[] { 9 }, ["i64s"] = new long[] { long.MaxValue }, ["f64s"] = new[] { 1e300, -0.0 },
        ["empty"] = Array.Empty<int>(),
        ["nested"] = new object[] { new[] { 1, 2 }, new[] { "x" }, new object[] { new[] { 1.0f } } },
    };

    [Theory]
    [InlineData(3, 32u)]
    [InlineData(2, 32u)]
    [InlineData(1, 32u)]
    [InlineData(3, 64u)]
    [InlineData(1, 8u)]
    public void WrittenFilesReadBackExactly(int version, uint alignment)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["matrix"] = randn(5, 3),
            ["half"] = randn(2, 3, 7).to_type(ScalarType.Float16),
            ["vector"] = randn(9).to_type(ScalarType.BFloat16),
            ["ints"] = randint(-50, 50, [2, 1, 3, 2], dtype: ScalarType.Int32),
        };
        var writer = new GgufWriter(version, alignment);
        foreach (var (key, value) in AllKinds) writer.AddMetadata(key, value);
        foreach (var (name, tensor) in tensors) writer.AddTensor(name, tensor);
        string path = temp.File("roundtrip.gguf");
        writer.Write(path);

        using var file = GgufFile.Open(path);
        Assert.Equal(version, file.Version);
        Assert.Equal(alignment, file.Alignment);
        Assert.Equal(AllKinds.Count + (alignment == 32 ? 0 : 1), file.Metadata.Count);
        foreach (var (key, value) in AllKinds)
        {
            Assert.Equal(value.GetType(), file.Metadata[key].GetType());
            Assert.Equal(value, file.Metadata[key]);
        }
        Assert.Equal(tensors.Keys, file.Tensors.Select(t => t.Name));
        foreach (var (name, expected) in tensors)
        {
            var info = file.FindTensor(name)!;
            Assert.Equal(Enumerable.Reverse(expected.shape), info.Dimensions);
            Assert.Equal(expected.shape, info.Shape);
            Assert.Equal(0ul, info.Offset % alignment);
            var actual = file.Read(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.True(expected.eq(actual).all().item<bool>(), name);
        }
    }

    [RequiresSharedFixtureFact("stories260K")]
    public void Stories260KHeaderAndTensors()
    {
        using var file = GgufFile.Open(GgufTestData.Stories260K);
        Assert.Equal(1, file.Version);
        Assert.Equal(48, file.Tensors.Count);
        Assert.Equal(18, file.Metadata.Count);
        Assert.Equal("llama", file.Metadata["general.architecture"]);
        Assert.Equal(512, ((string[])file.Metadata["tokenizer.ggml.tokens"]).Length);
        Assert.All(file.Tensors, t => Assert.Equal("F32", t.TypeName));

        var embedding = file.FindTensor("token_embd.weight")!;
        Assert.Equal([64L, 512L], embedding.Dimensions);
        Assert.Equal([512L, 64L], embedding.Shape);

        // Values read with a plain struct.unpack of the file at its 32-byte-aligned data section.
        using var scope = NewDisposeScope();
        Assert.Equal([-0.29474878311157227f, 0.5618956089019775f, 0.1754225343465805f], file.Read("token_embd.weight")[0, ..3].data<float>().ToArray());
        Assert.Equal([2.4583089351654053f, 1.3673226833343506f], file.Read("output_norm.weight")[..2].data<float>().ToArray());
        Assert.Equal(0.22455421090126038f, file.Read("blk.0.attn_q.weight")[1, 0].item<float>());
        foreach (var info in file.Tensors) Assert.Equal(info.Shape, file.Read(info.Name).shape);
    }

    [Fact]
    public void QuantizedTensorsAreListedButNotRead()
    {
        string path = temp.File("quantized.gguf");
        using (var scope = NewDisposeScope())
        {
            var writer = new GgufWriter();
            writer.AddTensor("blk.0.attn_q.weight", zeros(36)); // 144 bytes, one Q4_K block
            writer.Write(path);
        }
        GgufPatch.SetTensorType(path, "blk.0.attn_q.weight", 12);

        using var file = GgufFile.Open(path);
        Assert.Equal("Q4_K", file.Tensors[0].TypeName);
        var e = Assert.Throws<CheckpointFormatException>(() => file.Read("blk.0.attn_q.weight"));
        Assert.Equal("quantized GGUF tensors are not supported yet: blk.0.attn_q.weight is Q4_K", e.Message);
    }

    [Fact]
    public void UnknownTensorTypeIsRefused()
    {
        string path = WriteSmall();
        GgufPatch.SetTensorType(path, "t", 99);
        Assert.Contains("unknown ggml type 99", Assert.Throws<CheckpointFormatException>(() => GgufFile.Open(path)).Message);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'G', (byte)'G', (byte)'M', (byte)'L', 3, 0, 0, 0 }, "not a GGUF file")]
    [InlineData(new byte[] { (byte)'G', (byte)'G', (byte)'U', (byte)'F', 4, 0, 0, 0 }, "unknown GGUF version 4")]
    [InlineData(new byte[] { (byte)'G', (byte)'G', (byte)'U', (byte)'F', 0, 0, 0, 3 }, "big-endian")]
    [InlineData(new byte[] { (byte)'G', (byte)'G', (byte)'U', (byte)'F', 3, 0 }, "too short")]
    [InlineData(new byte[] { (byte)'G', (byte)'G', (byte)'U', (byte)'F', 3, 0, 0, 0, 1, 0 }, "tensor count at byte 8 runs past the end")]
    public void BadHeadersAreNamed(byte[] bytes, string expected)
    {
        string path = temp.File("bad.gguf");
        File.WriteAllBytes(path, bytes);
        Assert.Contains(expected, Assert.Throws<CheckpointFormatException>(() => GgufFile.Open(path)).Message);
    }

    [Fact]
    public void CountsLargerThanTheFileAreRefusedBeforeAllocating()
    {
        string path = WriteSmall();
        byte[] bytes = File.ReadAllBytes(path);
        BitConverter.TryWriteBytes(bytes.AsSpan(16, 8), long.MaxValue); // metadata count
        File.WriteAllBytes(path, bytes);
        Assert.Contains("metadata count is 9223372036854775807, more than", Assert.Throws<CheckpointFormatException>(() => GgufFile.Open(path)).Message);
    }

    [Fact]
    public void TensorDataPastTheEndIsRefused()
    {
        string path = WriteSmall();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^16]);
        Assert.Contains("tensor 't' (24 bytes at data offset 0) lies outside the 16-byte data section",
            Assert.Throws<CheckpointFormatException>(() => GgufFile.Open(path)).Message);
    }

    [Fact]
    public void TorchBytesOfANarrowedViewAreTheViewsOwn()
    {
        // Read and Write move tensors over 1 GiB in chunks through narrowed views' byte spans.
        using var scope = NewDisposeScope();
        var t = arange(10, dtype: ScalarType.Float32);
        var part = t.narrow(0, 3, 2);
        Assert.Equal(8, part.bytes.Length);
        Assert.Equal(3f, BitConverter.ToSingle(part.bytes[..4]));
        BitConverter.GetBytes(-1f).CopyTo(t.narrow(0, 7, 1).bytes);
        Assert.Equal(-1f, t[7].item<float>());
    }

    string WriteSmall()
    {
        string path = temp.File("small.gguf");
        using var scope = NewDisposeScope();
        var writer = new GgufWriter();
        writer.AddMetadata("general.architecture", "llama");
        writer.AddTensor("t", ones(2, 3));
        writer.Write(path);
        return path;
    }
}

/// <summary>Edits a written v2/v3 GGUF's tensor directory in place, to make files no writer would.</summary>
internal static class GgufPatch
{
    public static void SetTensorType(string path, string tensor, uint type)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int at = NameEnd(bytes, tensor);
        int rank = BitConverter.ToInt32(bytes, at);
        BitConverter.TryWriteBytes(bytes.AsSpan(at + 4 + 8 * rank, 4), type);
        File.WriteAllBytes(path, bytes);
    }

    public static void RenameTensor(string path, string tensor, string sameLengthName)
    {
        byte[] bytes = File.ReadAllBytes(path);
        byte[] name = Encoding.UTF8.GetBytes(sameLengthName);
        name.CopyTo(bytes, NameEnd(bytes, tensor) - name.Length);
        File.WriteAllBytes(path, bytes);
    }

    // The directory entry's name is preceded by its 64-bit length; metadata strings may repeat the text.
    static int NameEnd(byte[] bytes, string tensor)
    {
        byte[] entry = [.. BitConverter.GetBytes((ulong)Encoding.UTF8.GetByteCount(tensor)), .. Encoding.UTF8.GetBytes(tensor)];
        int at = bytes.AsSpan().LastIndexOf(entry);
        Assert.True(at >= 0, $"tensor '{tensor}' not found");
        return at + entry.Length;
    }
}
