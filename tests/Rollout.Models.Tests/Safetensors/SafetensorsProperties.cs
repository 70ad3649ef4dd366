using FsCheck;
using FsCheck.Fluent;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

public class SafetensorsProperties
{
    /// <summary>Opens and reads everything; true when the file was accepted, false when refused as malformed.</summary>
    static bool OpenAndReadAll(byte[] bytes)
    {
        using var directory = new TempDirectory();
        string path = RawSafetensors.Write(directory, bytes);
        try
        {
            using var scope = NewDisposeScope();
            using var file = SafetensorsFile.Open(path);
            foreach (string name in file.TensorNames)
            {
                var info = file.Describe(name);
                var tensor = file.Read(name);
                if (tensor.dtype != info.DType || !tensor.shape.SequenceEqual(info.Shape))
                    throw new InvalidOperationException($"'{name}' read as {tensor.dtype} [{string.Join(",", tensor.shape)}]");
            }
            return true;
        }
        catch (CheckpointFormatException e) when (e.Message.Contains(path))
        {
            return false;
        }
    }

    [SafetensorsProperty(MaxTest = 300)]
    public Property DamagedFilesAreReadOrRefusedCleanly(CorruptedFile file)
    {
        bool accepted = OpenAndReadAll(file.Bytes);
        return Prop.Classify(Prop.Classify(!file.DataOnly || accepted, accepted, "accepted"), file.DataOnly, "data only");
    }

    [SafetensorsProperty(MaxTest = 500)]
    public Property GeneratedHeadersAreReadOrRefusedCleanly(HostileHeader header)
    {
        bool accepted = OpenAndReadAll(RawSafetensors.Build(header.Json, header.DataLength));
        return Prop.Classify(true, accepted, "accepted");
    }

    static Tensor Materialize(TensorSpec spec)
    {
        var tensor = empty(spec.Shape, spec.DType);
        var bytes = tensor.bytes;
        new Random(spec.Seed).NextBytes(bytes);
        // Bool storage other than 0 and 1 is undefined behaviour in libtorch.
        if (spec.DType == ScalarType.Bool)
            foreach (ref byte b in bytes)
                b &= 1;
        tensor.bytes = bytes;
        return tensor;
    }

    static void AssertSameBits(IReadOnlyDictionary<string, Tensor> expected, ICheckpointReader reader)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), reader.TensorNames.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in expected)
        {
            var read = reader.Read(name);
            Assert.Equal(tensor.dtype, read.dtype);
            Assert.Equal(tensor.shape, read.shape);
            Assert.Equal(tensor.bytes.ToArray(), read.bytes.ToArray());
        }
    }

    [SafetensorsProperty(MaxTest = 60)]
    public void AnyTensorsRoundTripBitExactly(TensorSet set)
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        var tensors = set.Tensors.ToDictionary(s => s.Name, Materialize);

        SafetensorsWriter.Write(directory.File("one.safetensors"), tensors);
        using (var file = SafetensorsFile.Open(directory.File("one.safetensors")))
            AssertSameBits(tensors, file);

        string sharded = Path.Combine(directory.Path, "sharded");
        SafetensorsWriter.WriteSharded(sharded, tensors, set.MaxShardBytes);
        using (var checkpoint = SafetensorsCheckpoint.Open(sharded))
            AssertSameBits(tensors, checkpoint);
    }
}
