using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Safetensors;

/// <summary>
/// Writes tensors as safetensors files the Hugging Face reference reads: header padded with spaces
/// to 8 bytes, tensors ordered by descending element size then name (so each lies aligned to its
/// element size), output byte-identical for the same input.
/// </summary>
public static class SafetensorsWriter
{
    static readonly JsonWriterOptions HeaderJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any layout) to <paramref name="path"/>. The file is
    /// written beside its destination and moved into place, so a reader never sees half of it.
    /// </summary>
    /// <exception cref="ArgumentException">A name is repeated or reserved, or a dtype has no safetensors name.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = Collect(tensors);
        using var scope = torch.NewDisposeScope();
        var ordered = items
            .OrderByDescending(t => SafetensorsDType.SizeOf(t.Value.dtype))
            .ThenBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => (Name: t.Key, Tensor: t.Value.detach().cpu().contiguous()))
            .ToList();

        byte[] header = BuildHeader(ordered, metadata);
        WriteAtomically(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var (_, tensor) in ordered)
                TensorBytes.CopyTo(tensor, stream);
        });
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="directory"/> as Hugging Face shards
    /// (<c>model-00001-of-00003.safetensors</c>, ...) plus <c>model.safetensors.index.json</c>, even when
    /// one shard suffices. Tensors fill shards in the order given; a shard closes before it would exceed
    /// <paramref name="maxShardBytes"/>, and a tensor larger than that gets a shard of its own. The index is
    /// written last, so its presence means every shard is complete. Shards of an earlier write with a
    /// different count are left in place.
    /// </summary>
    /// <exception cref="ArgumentException">A name is repeated or reserved, or a dtype has no safetensors name.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShardBytes"/> is not positive.</exception>
    public static void WriteSharded(string directory, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        long maxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var items = Collect(tensors);

        var shards = new List<List<KeyValuePair<string, torch.Tensor>>>();
        long shardBytes = 0, totalBytes = 0;
        foreach (var item in items)
        {
            long bytes = ByteLength(item.Value);
            if (shards.Count == 0 || (shardBytes > 0 && shardBytes + bytes > maxShardBytes))
            {
                shards.Add([]);
                shardBytes = 0;
            }
            shards[^1].Add(item);
            shardBytes += bytes;
            totalBytes += bytes;
        }
        if (shards.Count == 0)
            shards.Add([]);

        Directory.CreateDirectory(directory);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(Path.Combine(directory, file), shards[i], metadata);
            foreach (var (name, _) in shards[i])
                weightMap[name] = file;
        }

        WriteAtomically(Path.Combine(directory, SafetensorsCheckpoint.IndexFileName), stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = HeaderJson.Encoder });
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalBytes);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap)
                json.WriteString(name, file);
            json.WriteEndObject();
            json.WriteEndObject();
        });
    }

    static List<KeyValuePair<string, torch.Tensor>> Collect(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        var items = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in items)
        {
            ArgumentNullException.ThrowIfNull(name, nameof(tensors));
            ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
            if (name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"'{name}' is reserved for the header's metadata", nameof(tensors));
            if (!names.Add(name))
                throw new ArgumentException($"tensor '{name}' is given twice", nameof(tensors));
            if (!SafetensorsDType.TryGetName(tensor.dtype, out _, out _))
                throw new ArgumentException($"tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store here", nameof(tensors));
        }
        return items;
    }

    static long ByteLength(torch.Tensor tensor) => tensor.numel() * SafetensorsDType.SizeOf(tensor.dtype);

    static byte[] BuildHeader(List<(string Name, torch.Tensor Tensor)> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, HeaderJson))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in ordered)
            {
                SafetensorsDType.TryGetName(tensor.dtype, out string dtype, out _);
                long end = offset + ByteLength(tensor);
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (long dim in tensor.shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        // Padding keeps the data buffer 8-byte aligned in the file, so every tensor in a mapping is
        // aligned to its element size.
        while (buffer.Length % 8 != 0)
            buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    static void WriteAtomically(string path, Action<Stream> write)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
