using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Gguf;

/// <summary>
/// Damaged copies of a valid small GGUF (every metadata kind, several tensor types, v1 and v3) must open
/// and read, or fail with <see cref="CheckpointFormatException"/>: no other exception, no crash, no hang.
/// </summary>
public class GgufFileHostileTests : IDisposable
{
    static readonly byte[][] Valid = [Build(version: 3), Build(version: 1)];

    // Values that make counts, lengths, dimensions and offsets absurd when they land on one.
    static readonly ulong[] Extremes = [0, 1, 2, 3, 4, 0x7F, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, uint.MaxValue, 1UL << 32, long.MaxValue, 1UL << 63, ulong.MaxValue];

    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Property(MaxTest = 300)]
    public void TruncatedFilesFailCleanly(bool v1, NonNegativeInt cut)
    {
        byte[] valid = Valid[v1 ? 1 : 0];
        OpensOrFailsCleanly(valid[..(cut.Get % valid.Length)]);
    }

    [Property(MaxTest = 300)]
    public void OverwrittenBytesFailCleanly(bool v1, NonNegativeInt[] positions, byte[] values)
    {
        byte[] bytes = (byte[])Valid[v1 ? 1 : 0].Clone();
        for (int i = 0; i < Math.Min(positions.Length, values.Length); i++) bytes[positions[i].Get % bytes.Length] = values[i];
        OpensOrFailsCleanly(bytes);
    }

    [Property(MaxTest = 300)]
    public void AbsurdNumbersFailCleanly(bool v1, NonNegativeInt position, NonNegativeInt extreme, bool narrow)
    {
        byte[] bytes = (byte[])Valid[v1 ? 1 : 0].Clone();
        int width = narrow ? 4 : 8;
        int at = position.Get % (bytes.Length - width);
        BitConverter.GetBytes(Extremes[extreme.Get % Extremes.Length]).AsSpan(0, width).CopyTo(bytes.AsSpan(at));
        OpensOrFailsCleanly(bytes);
    }

    void OpensOrFailsCleanly(byte[] bytes)
    {
        string path = temp.File($"{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var file = GgufFile.Open(path);
            foreach (var info in file.Tensors)
            {
                try
                {
                    file.Read(info.Name).Dispose();
                }
                catch (CheckpointFormatException)
                {
                }
            }
        }
        catch (CheckpointFormatException)
        {
        }
        finally
        {
            File.Delete(path);
        }
    }

    static byte[] Build(int version)
    {
        using var temp = new TempFolder();
        using var scope = NewDisposeScope();
        var writer = new GgufWriter(version);
        writer.AddMetadata("general.architecture", "llama");
        writer.AddMetadata("llama.block_count", 2u);
        writer.AddMetadata("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        writer.AddMetadata("tokenizer.ggml.tokens", new[] { "<unk>", "<s>", "</s>", "▁a", "b" });
        writer.AddMetadata("tokenizer.ggml.scores", new[] { 0f, 0f, 0f, -1f, -2f });
        writer.AddMetadata("big", ulong.MaxValue);
        writer.AddMetadata("nested", new object[] { new[] { 1, 2 }, new[] { "x", "yz" } });
        writer.AddTensor("matrix", randn(4, 3));
        writer.AddTensor("half", randn(5).to_type(ScalarType.Float16));
        writer.AddTensor("bytes", ones(3, 2, dtype: ScalarType.Int8));
        string path = temp.File("valid.gguf");
        writer.Write(path);
        return File.ReadAllBytes(path);
    }
}
