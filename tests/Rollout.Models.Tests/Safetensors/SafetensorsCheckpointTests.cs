using System.Text.Json;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

public class SafetensorsCheckpointTests
{
    [Fact]
    public void OpensADirectoryWithASingleFile()
    {
        using var scope = NewDisposeScope();
        using var checkpoint = SafetensorsCheckpoint.Open(Path.Combine(TestPaths.RepoFixtures, "hf", "qwen2"));
        Assert.Contains("model.embed_tokens.weight", checkpoint.TensorNames);
        Assert.Equal([256L, 64], checkpoint.Read("model.embed_tokens.weight").shape);
    }

    [Fact]
    public void OpensAFileOrAnIndexGivenDirectly()
    {
        using var scope = NewDisposeScope();
        using var directory = new TempDirectory();
        SafetensorsWriter.WriteSharded(directory.Path, [new("a", ones(3)), new("b", zeros(2))], maxShardBytes: 1);

        using (var viaIndex = SafetensorsCheckpoint.Open(directory.File(SafetensorsCheckpoint.IndexFileName)))
            Assert.Equal(["a", "b"], viaIndex.TensorNames);
        using (var viaFile = SafetensorsCheckpoint.Open(directory.File("model-00002-of-00002.safetensors")))
            Assert.Equal(["b"], viaFile.TensorNames);
    }

    [Fact]
    public void DirectoryWithoutACheckpointIsNotFound()
    {
        using var directory = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(directory.Path));
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(directory.File("absent")));
    }

    /// <summary>Two shards a (F32 [2]) and b (F32 [3]) plus an index that <paramref name="weightMap"/> replaces.</summary>
    static CheckpointFormatException RefusedIndex(TempDirectory directory, string index)
    {
        using (NewDisposeScope())
        {
            SafetensorsWriter.Write(directory.File("s1.safetensors"), [new("a", ones(2))]);
            SafetensorsWriter.Write(directory.File("s2.safetensors"), [new("b", ones(3))]);
        }
        File.WriteAllText(directory.File(SafetensorsCheckpoint.IndexFileName), index);
        var error = Assert.Throws<CheckpointFormatException>(() => SafetensorsCheckpoint.Open(directory.Path).Dispose());
        Assert.Contains(SafetensorsCheckpoint.IndexFileName, error.Message);
        return error;
    }

    static string Index(params (string Tensor, string Shard)[] weightMap) =>
        JsonSerializer.Serialize(new { metadata = new { total_size = 20 }, weight_map = weightMap.ToDictionary(p => p.Tensor, p => p.Shard) });

    [Fact]
    public void AConsistentIndexOpens()
    {
        using var directory = new TempDirectory();
        using (NewDisposeScope())
        {
            SafetensorsWriter.Write(directory.File("s1.safetensors"), [new("a", ones(2))]);
            SafetensorsWriter.Write(directory.File("s2.safetensors"), [new("b", ones(3))]);
        }
        File.WriteAllText(directory.File(SafetensorsCheckpoint.IndexFileName), Index(("a", "s1.safetensors"), ("b", "s2.safetensors")));
        using var checkpoint = SafetensorsCheckpoint.Open(directory.Path);
        Assert.Equal([3L], checkpoint.Describe("b").Shape);
    }

    [Fact]
    public void MissingShardIsRefused()
    {
        using var directory = new TempDirectory();
        var error = RefusedIndex(directory, Index(("a", "s1.safetensors"), ("b", "s3.safetensors")));
        Assert.Contains("shard 's3.safetensors' (holding tensor 'b') does not exist", error.Message);
    }

    [Fact]
    public void NameAbsentFromItsShardIsRefused()
    {
        using var directory = new TempDirectory();
        var error = RefusedIndex(directory, Index(("a", "s1.safetensors"), ("b", "s1.safetensors"), ("x", "s2.safetensors")));
        Assert.Contains("tensor 'b' is listed in shard 's1.safetensors' but absent from it", error.Message);
    }

    [Fact]
    public void NameInTwoShardsIsRefused()
    {
        using var directory = new TempDirectory();
        using (NewDisposeScope())
            SafetensorsWriter.Write(directory.File("s3.safetensors"), [new("a", zeros(2))]);
        var error = RefusedIndex(directory, Index(("a", "s1.safetensors"), ("b", "s2.safetensors"), ("c", "s3.safetensors")));
        Assert.Contains("tensor 'a' is in both shard 's1.safetensors' and shard 's3.safetensors'", error.Message);
    }

    [Theory]
    [InlineData("../s1.safetensors")]
    [InlineData("sub/../../s1.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("")]
    public void ShardPathLeavingTheDirectoryIsRefused(string shard)
    {
        using var directory = new TempDirectory();
        var error = RefusedIndex(directory, Index(("a", "s1.safetensors"), ("b", shard)));
        Assert.Contains($"shard path '{shard}' (holding tensor 'b') leaves the checkpoint directory", error.Message);
    }

    [Fact]
    public void IndexWithoutAWeightMapIsRefused()
    {
        using var directory = new TempDirectory();
        Assert.Contains("no 'weight_map'", RefusedIndex(directory, """{"metadata": {}}""").Message);
    }

    [Fact]
    public void IndexThatIsNotJsonIsRefused()
    {
        using var directory = new TempDirectory();
        Assert.Contains("not valid JSON", RefusedIndex(directory, """{"weight_map": {"a": """).Message);
    }

    [Fact]
    public void IndexEntryThatIsNotAStringIsRefused()
    {
        using var directory = new TempDirectory();
        Assert.Contains("weight_map entry for tensor 'a' is not a string", RefusedIndex(directory, """{"weight_map": {"a": 1}}""").Message);
    }

    [Fact]
    public void ShardThatIsMalformedIsRefusedNamingIt()
    {
        using var directory = new TempDirectory();
        File.WriteAllBytes(directory.File("bad.safetensors"), [1, 2, 3]);
        File.WriteAllText(directory.File(SafetensorsCheckpoint.IndexFileName), Index(("a", "bad.safetensors")));
        var error = Assert.Throws<CheckpointFormatException>(() => SafetensorsCheckpoint.Open(directory.Path));
        Assert.Contains("bad.safetensors", error.Message);
    }
}
