using System.Text.Json;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Safetensors;

/// <summary>
/// A Hugging Face safetensors checkpoint: a single <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c>. Every shard is opened and validated at <see cref="Open"/>.
/// </summary>
public sealed class SafetensorsCheckpoint : ICheckpointReader
{
    /// <summary>The single-file name Hugging Face writes.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The index name Hugging Face writes beside shards.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Indexes are a few megabytes even for the largest models; this keeps a hostile one from exhausting memory.</summary>
    const long MaxIndexBytes = 100_000_000;

    readonly SafetensorsFile[] _files;
    readonly Dictionary<string, SafetensorsFile> _owners;

    SafetensorsCheckpoint(SafetensorsFile[] files, Dictionary<string, SafetensorsFile> owners)
    {
        _files = files;
        _owners = owners;
        TensorNames = owners.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Every tensor name across all shards, sorted ordinally.</summary>
    public IReadOnlyCollection<string> TensorNames { get; }

    /// <summary>
    /// Opens <paramref name="directoryOrFile"/>: a directory holding <c>model.safetensors</c> (preferred,
    /// as Hugging Face does) or <c>model.safetensors.index.json</c>, a <c>.safetensors</c> file, or an index file.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A file is malformed, a shard is missing, or index and shards disagree.</exception>
    /// <exception cref="FileNotFoundException">Nothing to open at <paramref name="directoryOrFile"/>.</exception>
    public static SafetensorsCheckpoint Open(string directoryOrFile)
    {
        if (Directory.Exists(directoryOrFile))
        {
            string single = Path.Combine(directoryOrFile, SingleFileName);
            if (File.Exists(single))
                return OpenSingle(single);
            string index = Path.Combine(directoryOrFile, IndexFileName);
            if (File.Exists(index))
                return OpenIndex(index);
            throw new FileNotFoundException($"{directoryOrFile}: neither {SingleFileName} nor {IndexFileName} found", single);
        }
        if (!File.Exists(directoryOrFile))
            throw new FileNotFoundException($"{directoryOrFile}: no such file or directory", directoryOrFile);
        return directoryOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? OpenIndex(directoryOrFile)
            : OpenSingle(directoryOrFile);
    }

    static SafetensorsCheckpoint OpenSingle(string path)
    {
        var file = SafetensorsFile.Open(path);
        return new SafetensorsCheckpoint([file], file.TensorNames.ToDictionary(n => n, _ => file, StringComparer.Ordinal));
    }

    static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        string directory = Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(indexPath))!);

        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, shard) in weightMap.OrderBy(p => p.Value, StringComparer.Ordinal))
            {
                if (shards.ContainsKey(shard))
                    continue;
                string path = ResolveShard(directory, shard, indexPath, tensor);
                if (!File.Exists(path))
                    throw Fail(indexPath, $"shard '{shard}' (holding tensor '{tensor}') does not exist");
                shards.Add(shard, SafetensorsFile.Open(path));
            }

            var owners = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (shard, file) in shards)
            {
                foreach (string name in file.TensorNames)
                {
                    if (!owners.TryAdd(name, file))
                        throw Fail(indexPath, $"tensor '{name}' is in both shard '{Path.GetFileName(owners[name].Path)}' and shard '{shard}'");
                }
            }
            foreach (var (tensor, shard) in weightMap)
            {
                if (!shards[shard].Contains(tensor))
                    throw Fail(indexPath, $"tensor '{tensor}' is listed in shard '{shard}' but absent from it");
            }
            return new SafetensorsCheckpoint(shards.Values.ToArray(), owners);
        }
        catch
        {
            foreach (var file in shards.Values)
                file.Dispose();
            throw;
        }
    }

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        byte[] bytes;
        using (var stream = File.OpenRead(indexPath))
        {
            if (stream.Length > MaxIndexBytes)
                throw Fail(indexPath, $"index is {stream.Length} bytes, over the {MaxIndexBytes}-byte limit");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Fail(indexPath, "index is not a JSON object");
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw Fail(indexPath, "index has no 'weight_map' object");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw Fail(indexPath, $"weight_map entry for tensor '{entry.Name}' is not a string");
                if (!weightMap.TryAdd(entry.Name, entry.Value.GetString()!))
                    throw Fail(indexPath, $"tensor '{entry.Name}' appears twice in weight_map");
            }
            return weightMap;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw Fail(indexPath, $"index is not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>
    /// Shard names come from a downloaded file; one like <c>../../.ssh/id_rsa</c> must not make us
    /// open files outside the checkpoint directory.
    /// </summary>
    static string ResolveShard(string directory, string shard, string indexPath, string tensor)
    {
        bool plain = shard.Length > 0
            && !shard.Contains('\0')
            && !Path.IsPathRooted(shard)
            && !shard.Split('/', '\\').Contains("..");
        string full = plain ? Path.GetFullPath(Path.Combine(directory, shard)) : "";
        string root = directory.EndsWith(Path.DirectorySeparatorChar) ? directory : directory + Path.DirectorySeparatorChar;
        if (!plain || !full.StartsWith(root, StringComparison.Ordinal))
            throw Fail(indexPath, $"shard path '{shard}' (holding tensor '{tensor}') leaves the checkpoint directory");
        return full;
    }

    static CheckpointFormatException Fail(string indexPath, string problem, Exception? inner = null) =>
        new($"{indexPath}: {problem}", inner);

    /// <inheritdoc/>
    public TensorInfo Describe(string name) => Owner(name).Describe(name);

    /// <inheritdoc/>
    public torch.Tensor Read(string name) => Owner(name).Read(name);

    SafetensorsFile Owner(string name) =>
        _owners.TryGetValue(name, out var file) ? file : throw new KeyNotFoundException($"checkpoint has no tensor named '{name}'");

    /// <summary>Unmaps every shard.</summary>
    public void Dispose()
    {
        foreach (var file in _files)
            file.Dispose();
    }
}
