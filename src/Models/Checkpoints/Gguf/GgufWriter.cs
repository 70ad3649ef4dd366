using System.Buffers.Binary;
using System.Text;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>
/// Builds a GGUF file: metadata of every GGUF type and unquantized tensors, written with the file's
/// alignment padding. Version 3 is what llama.cpp loads; version 1 exists to test readers of old files.
/// </summary>
/// <remarks>
/// A metadata value's GGUF type is given by its CLR type, the same mapping <see cref="GgufFile.Metadata"/>
/// reads back (<c>uint</c> is UINT32, <c>float[]</c> an array of FLOAT32, <c>object[]</c> of arrays an
/// array of arrays). Tensors are referenced, not copied, until <see cref="Write"/>.
/// </remarks>
public sealed class GgufWriter
{
    const uint Magic = 0x46554747;
    const uint DefaultAlignment = 32;
    const string AlignmentKey = "general.alignment";

    readonly List<(string Key, object Value)> metadata = [];
    readonly List<(string Name, torch.Tensor Tensor)> tensors = [];
    readonly int version;
    readonly uint alignment;

    /// <summary>A writer for GGUF <paramref name="version"/> (1 to 3) with tensor data aligned to <paramref name="alignment"/> bytes.</summary>
    public GgufWriter(int version = 3, uint alignment = DefaultAlignment)
    {
        if (version is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(version), version, "GGUF versions are 1 to 3");
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "alignment must be a power of two");
        this.version = version;
        this.alignment = alignment;
        if (alignment != DefaultAlignment) metadata.Add((AlignmentKey, alignment));
    }

    /// <summary>Adds a metadata entry; <paramref name="value"/>'s CLR type picks its GGUF type.</summary>
    /// <exception cref="ArgumentException">The key is already present, is <c>general.alignment</c> (set by the constructor), or the value's type has no GGUF counterpart.</exception>
    public void AddMetadata(string key, object value)
    {
        if (key == AlignmentKey) throw new ArgumentException($"{AlignmentKey} is set through the constructor", nameof(key));
        if (metadata.Any(m => m.Key == key)) throw new ArgumentException($"metadata key '{key}' was already added", nameof(key));
        CheckValue(value, key, depth: 0);
        metadata.Add((key, value));
    }

    /// <summary>Adds a CPU tensor stored unquantized in its own dtype (F32, F16, BF16, F64 or an integer type).</summary>
    /// <exception cref="ArgumentException">The name is taken, or the tensor is a scalar, has more than 4 dimensions, or has a dtype GGUF lacks.</exception>
    public void AddTensor(string name, torch.Tensor tensor)
    {
        if (tensors.Any(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        if (tensor.Dimensions is 0 or > 4) throw new ArgumentException($"tensor '{name}' has {tensor.Dimensions} dimensions; GGUF stores 1 to 4", nameof(tensor));
        if (tensor.device_type != DeviceType.CPU) throw new ArgumentException($"tensor '{name}' is not on the CPU", nameof(tensor));
        GgmlTypes.FromTorch(tensor.dtype, name);
        tensors.Add((name, tensor));
    }

    /// <summary>Writes the file, replacing any file at <paramref name="path"/>.</summary>
    public void Write(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var output = new BinaryWriter(stream, Encoding.UTF8);
        output.Write(Magic);
        output.Write((uint)version);
        WriteCount(output, tensors.Count);
        WriteCount(output, metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(output, key);
            WriteValue(output, value);
        }

        long offset = 0;
        var offsets = new List<long>();
        foreach (var (name, tensor) in tensors)
        {
            WriteString(output, name);
            output.Write((uint)tensor.Dimensions);
            foreach (long dim in Enumerable.Reverse(tensor.shape)) WriteCount(output, dim);
            output.Write((uint)GgmlTypes.FromTorch(tensor.dtype, name));
            output.Write((ulong)offset);
            offsets.Add(offset);
            offset = AlignUp(offset + tensor.NumberOfElements * tensor.ElementSize);
        }

        Pad(output);
        long dataStart = stream.Position;
        for (int i = 0; i < tensors.Count; i++)
        {
            output.Write(new byte[dataStart + offsets[i] - stream.Position]);
            WriteTensorData(output, tensors[i].Tensor);
        }
        Pad(output);
    }

    static void WriteTensorData(BinaryWriter output, torch.Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var flat = tensor.contiguous().view(-1);
        // torch hands its data out as an int-sized span; chunks keep each under 2 GiB.
        long chunk = (1L << 30) / tensor.ElementSize;
        for (long done = 0; done < flat.NumberOfElements; done += chunk)
            output.Write(flat.narrow(0, done, Math.Min(chunk, flat.NumberOfElements - done)).bytes);
    }

    void Pad(BinaryWriter output)
    {
        long position = output.BaseStream.Position;
        output.Write(new byte[AlignUp(position) - position]);
    }

    long AlignUp(long position) => (position + alignment - 1) / alignment * alignment;

    void WriteCount(BinaryWriter output, long count)
    {
        if (version >= 2)
        {
            output.Write((ulong)count);
            return;
        }
        if (count > uint.MaxValue) throw new InvalidOperationException($"{count} does not fit GGUF version 1's 32-bit counts");
        output.Write((uint)count);
    }

    void WriteString(BinaryWriter output, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        WriteCount(output, bytes.Length);
        output.Write(bytes);
    }

    void WriteValue(BinaryWriter output, object value)
    {
        GgufValueTypes.TryFromClr(value.GetType(), out var type);
        output.Write((uint)type);
        WritePayload(output, value);
    }

    // An array's payload is its item type, count and items; an inner array of an array of arrays is
    // stored as exactly that payload, without a tag of its own.
    void WritePayload(BinaryWriter output, object value)
    {
        switch (value)
        {
            case string s: WriteString(output, s); break;
            case bool b: output.Write(b); break;
            case byte v: output.Write(v); break;
            case sbyte v: output.Write(v); break;
            case ushort v: output.Write(v); break;
            case short v: output.Write(v); break;
            case uint v: output.Write(v); break;
            case int v: output.Write(v); break;
            case float v: output.Write(v); break;
            case ulong v: output.Write(v); break;
            case long v: output.Write(v); break;
            case double v: output.Write(v); break;
            case Array items:
                GgufValueType itemType = GgufValueType.Array;
                if (!GgufValueTypes.IsArrayOfArrays(items)) GgufValueTypes.TryFromClr(items.GetType().GetElementType()!, out itemType);
                output.Write((uint)itemType);
                WriteCount(output, items.Length);
                foreach (object item in items) WritePayload(output, item);
                break;
        }
    }

    static void CheckValue(object value, string key, int depth)
    {
        if (value is Array items)
        {
            if (depth >= GgufValueTypes.MaxArrayNesting)
                throw new ArgumentException($"metadata '{key}' nests arrays more than {GgufValueTypes.MaxArrayNesting} deep, which readers refuse");
            if (items.Rank != 1) throw new ArgumentException($"metadata '{key}': only one-dimensional arrays are GGUF arrays");
            if (GgufValueTypes.IsArrayOfArrays(items))
            {
                foreach (object? item in items)
                {
                    if (item is not Array) throw new ArgumentException($"metadata '{key}': an object[] must hold arrays only (GGUF arrays have one item type)");
                    CheckValue(item, key, depth + 1);
                }
                return;
            }
            var itemType = items.GetType().GetElementType()!;
            if (itemType.IsArray || !GgufValueTypes.TryFromClr(itemType, out _))
                throw new ArgumentException($"metadata '{key}': arrays of {itemType.Name} have no GGUF type");
            return;
        }
        if (!GgufValueTypes.TryFromClr(value.GetType(), out _))
            throw new ArgumentException($"metadata '{key}': {value.GetType().Name} has no GGUF type");
    }
}
