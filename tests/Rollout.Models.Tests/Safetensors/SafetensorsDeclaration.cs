using System.Buffers.Binary;
using System.Numerics;
using System.Text.Json;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

/// <summary>One tensor as a file declares it, or as a loader handed it back.</summary>
internal sealed record TensorContents(string Name, ScalarType DType, long[] Shape, byte[] Bytes)
{
    public override string ToString() => $"{Name}:{DType}[{string.Join(",", Shape)}] ({Bytes.Length} bytes)";
}

/// <summary>
/// What a safetensors file says it holds, read by the test itself from the file's bytes: the header's
/// entries at face value, each tensor's bytes taken from its declared offsets. None of the loader's
/// validation is repeated; a file the loader accepted must simply have loaded to exactly this.
/// </summary>
internal sealed record SafetensorsDeclaration(IReadOnlyList<TensorContents> Tensors, IReadOnlyList<KeyValuePair<string, string>> Metadata)
{
    static readonly Dictionary<string, (ScalarType Type, int Size)> DTypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1), ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>Reads <paramref name="file"/>; fails the test where the file cannot mean any set of tensors.</summary>
    public static SafetensorsDeclaration Read(byte[] file)
    {
        try
        {
            return Parse(file);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Unreadable(e.Message, e);
        }
    }

    static SafetensorsDeclaration Parse(byte[] file)
    {
        Check(file.Length >= 8, $"{file.Length} bytes hold no header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Check(headerLength <= (ulong)file.Length - 8, $"header length {headerLength} runs past the end of the file");
        int dataStart = 8 + (int)headerLength;

        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var tensors = new List<TensorContents>();
        var metadata = new List<KeyValuePair<string, string>>();
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                metadata.AddRange(entry.Value.EnumerateObject().Select(m => KeyValuePair.Create(m.Name, m.Value.GetString()!)));
                continue;
            }
            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            Check(DTypes.TryGetValue(dtype, out var type), $"tensor '{entry.Name}' has dtype '{dtype}', which safetensors does not define");
            long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            Check(offsets is [>= 0, >= 0] && offsets[0] <= offsets[1], $"tensor '{entry.Name}' has data_offsets [{string.Join(", ", offsets)}]");
            BigInteger size = shape.Aggregate(new BigInteger(type.Size), (product, d) => product * d);
            Check(size == offsets[1] - offsets[0], $"tensor '{entry.Name}' needs {size} bytes but its data_offsets span {offsets[1] - offsets[0]}");
            Check(offsets[1] <= file.Length - dataStart, $"tensor '{entry.Name}' ends at data byte {offsets[1]}, past the file's {file.Length - dataStart}");
            tensors.Add(new TensorContents(entry.Name, type.Type, shape, file[(dataStart + (int)offsets[0])..(dataStart + (int)offsets[1])]));
        }
        return new SafetensorsDeclaration(tensors, metadata);
    }

    static void Check(bool condition, string problem)
    {
        if (!condition)
            throw Unreadable(problem);
    }

    static XunitException Unreadable(string problem, Exception? inner = null) =>
        new($"the loader accepted a file that cannot be read as declared: {problem}", inner);
}
