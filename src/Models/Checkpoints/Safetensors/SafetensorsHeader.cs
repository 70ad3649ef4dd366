using System.Text.Json;
using System.Text.Unicode;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Safetensors;

/// <summary>Where one tensor lies in the data buffer, relative to its start.</summary>
internal sealed record SafetensorsEntry(string Name, torch.ScalarType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The parsed and fully validated JSON header of a safetensors file. Validation here is the
/// whole defence against hostile files: once a header is accepted every entry lies inside the
/// data buffer, so reads can copy without further checks.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>The reference implementation's limit; it keeps a hostile length from allocating gigabytes.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Far above any real model (4 or 5), far below what would stress libtorch.</summary>
    public const int MaxRank = 64;

    public const string MetadataKey = "__metadata__";

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>Entries in file order (ascending offsets).</summary>
    public required IReadOnlyList<SafetensorsEntry> Entries { get; init; }

    /// <summary>
    /// Parses <paramref name="json"/>, the header of <paramref name="file"/>, whose data buffer
    /// holds <paramref name="dataLength"/> bytes.
    /// </summary>
    public static SafetensorsHeader Parse(byte[] json, long dataLength, string file)
    {
        // System.Text.Json replaces or rejects bad UTF-8 depending on where it sits; checking the
        // whole header first gives one clear answer.
        if (!Utf8.IsValid(json))
            throw Fail(file, "header is not valid UTF-8");
        if (json.Length == 0 || json[0] != (byte)'{')
            throw Fail(file, "header does not start with '{'");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw Fail(file, $"header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            try
            {
                return FromJson(document.RootElement, dataLength, file);
            }
            catch (InvalidOperationException e)
            {
                // Lone surrogate escapes (\ud800) in names parse but cannot become .NET strings.
                throw Fail(file, $"header holds a string that is not valid Unicode ({e.Message})", e);
            }
        }
    }

    static SafetensorsHeader FromJson(JsonElement root, long dataLength, string file)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Fail(file, "header is not a JSON object");

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<SafetensorsEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            // JsonDocument keeps duplicate keys; the reference keeps the last silently, which lets two
            // readers of one file disagree about its contents.
            if (!seen.Add(property.Name))
                throw Fail(file, $"tensor '{property.Name}' appears twice in the header");
            if (property.Name == MetadataKey)
                ReadMetadata(property.Value, metadata, file);
            else
                entries.Add(ReadEntry(property.Name, property.Value, file));
        }

        CheckLayout(entries, dataLength, file);
        return new SafetensorsHeader { Metadata = metadata.AsReadOnly(), Entries = entries };
    }

    static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(file, $"'{MetadataKey}' is not an object");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Fail(file, $"'{MetadataKey}' entry '{item.Name}' is not a string");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Fail(file, $"'{MetadataKey}' entry '{item.Name}' appears twice");
        }
    }

    static SafetensorsEntry ReadEntry(string name, JsonElement value, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(file, $"tensor '{name}': entry is a JSON {value.ValueKind}, not an object");

        JsonElement? dtype = null, shape = null, offsets = null;
        foreach (var field in value.EnumerateObject())
        {
            ref JsonElement? slot = ref dtype;
            switch (field.Name)
            {
                case "dtype": slot = ref dtype; break;
                case "shape": slot = ref shape; break;
                case "data_offsets": slot = ref offsets; break;
                default: throw Fail(file, $"tensor '{name}': unexpected field '{field.Name}'");
            }
            if (slot is not null)
                throw Fail(file, $"tensor '{name}': field '{field.Name}' appears twice");
            slot = field.Value;
        }
        if (dtype is not { } dtypeValue)
            throw Fail(file, $"tensor '{name}': missing field 'dtype'");
        if (shape is not { } shapeValue)
            throw Fail(file, $"tensor '{name}': missing field 'shape'");
        if (offsets is not { } offsetsValue)
            throw Fail(file, $"tensor '{name}': missing field 'data_offsets'");

        if (dtypeValue.ValueKind != JsonValueKind.String)
            throw Fail(file, $"tensor '{name}': 'dtype' is not a string");
        string dtypeName = dtypeValue.GetString()!;
        if (!SafetensorsDType.TryParse(dtypeName, out var type, out int elementSize))
            throw Fail(file, $"tensor '{name}': unsupported dtype '{dtypeName}'");

        long[] dims = ReadIntegers(shapeValue, name, "shape", file);
        if (dims.Length > MaxRank)
            throw Fail(file, $"tensor '{name}': shape has {dims.Length} dimensions, more than {MaxRank}");
        long[] span = ReadIntegers(offsetsValue, name, "data_offsets", file);
        if (span.Length != 2)
            throw Fail(file, $"tensor '{name}': 'data_offsets' has {span.Length} values, not 2");
        var (begin, end) = (span[0], span[1]);
        if (begin > end)
            throw Fail(file, $"tensor '{name}': data_offsets begin {begin} is after end {end}");

        // The extent (zero dimensions counted as one) must fit too: libtorch computes strides from it,
        // so [0, 2^32, 2^32] holds no bytes yet would fail in torch.empty, after Open had accepted it.
        long bytes = elementSize, extent = elementSize;
        foreach (long dim in dims)
        {
            long factor = Math.Max(dim, 1);
            if (extent > long.MaxValue / factor)
                throw Fail(file, $"tensor '{name}': shape [{string.Join(", ", dims)}] overflows 64 bits");
            extent *= factor;
            bytes *= dim;
        }
        if (bytes != end - begin)
            throw Fail(file, $"tensor '{name}': shape [{string.Join(", ", dims)}] of {dtypeName} needs {bytes} bytes but data_offsets span {end - begin}");

        return new SafetensorsEntry(name, type, dims, begin, end);
    }

    static long[] ReadIntegers(JsonElement value, string name, string field, string file)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw Fail(file, $"tensor '{name}': '{field}' is not an array");
        var result = new long[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number))
                throw Fail(file, $"tensor '{name}': '{field}' holds {item.GetRawText()}, not a 64-bit integer");
            if (number < 0)
                throw Fail(file, $"tensor '{name}': '{field}' holds the negative value {number}");
            result[i++] = number;
        }
        return result;
    }

    /// <summary>
    /// Sorts <paramref name="entries"/> by offset and demands they tile the data buffer exactly:
    /// no overlap (two names aliasing one storage), no hole, nothing past the end. The reference
    /// refuses holes too, so a file we accept is one every reader accepts.
    /// </summary>
    static void CheckLayout(List<SafetensorsEntry> entries, long dataLength, string file)
    {
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin)
            : a.End != b.End ? a.End.CompareTo(b.End)
            : string.CompareOrdinal(a.Name, b.Name));
        long expected = 0;
        SafetensorsEntry? previous = null;
        foreach (var entry in entries)
        {
            if (entry.End > dataLength)
                throw Fail(file, $"tensor '{entry.Name}': data_offsets end {entry.End} is past the data buffer ({dataLength} bytes)");
            if (entry.Begin < expected)
                throw Fail(file, $"tensor '{entry.Name}': bytes [{entry.Begin}, {entry.End}) overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End})");
            if (entry.Begin > expected)
                throw Fail(file, $"tensor '{entry.Name}': hole of {entry.Begin - expected} bytes in the data buffer before it (at {expected})");
            expected = entry.End;
            previous = entry;
        }
        if (expected != dataLength)
            throw Fail(file, $"data buffer has {dataLength - expected} bytes after the last tensor{(previous is null ? "" : $" '{previous.Name}'")} that no tensor covers");
    }

    internal static CheckpointFormatException Fail(string file, string problem, Exception? inner = null) =>
        new($"{file}: {problem}", inner);
}
