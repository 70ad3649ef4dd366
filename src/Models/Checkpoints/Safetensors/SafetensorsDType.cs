using TorchSharp;

namespace Rollout.Models.Checkpoints.Safetensors;

/// <summary>The dtype names of the safetensors header and the torch types they map to.</summary>
internal static class SafetensorsDType
{
    static readonly (string Name, torch.ScalarType Type, int Size)[] Known =
    [
        ("F64", torch.ScalarType.Float64, 8),
        ("F32", torch.ScalarType.Float32, 4),
        ("F16", torch.ScalarType.Float16, 2),
        ("BF16", torch.ScalarType.BFloat16, 2),
        ("I64", torch.ScalarType.Int64, 8),
        ("I32", torch.ScalarType.Int32, 4),
        ("I16", torch.ScalarType.Int16, 2),
        ("I8", torch.ScalarType.Int8, 1),
        ("U8", torch.ScalarType.Byte, 1),
        ("BOOL", torch.ScalarType.Bool, 1),
    ];

    public static bool TryParse(string name, out torch.ScalarType type, out int size)
    {
        foreach (var known in Known)
        {
            if (known.Name == name)
            {
                (type, size) = (known.Type, known.Size);
                return true;
            }
        }
        (type, size) = (default, 0);
        return false;
    }

    public static bool TryGetName(torch.ScalarType type, out string name, out int size)
    {
        foreach (var known in Known)
        {
            if (known.Type == type)
            {
                (name, size) = (known.Name, known.Size);
                return true;
            }
        }
        (name, size) = ("", 0);
        return false;
    }

    public static int SizeOf(torch.ScalarType type) =>
        TryGetName(type, out _, out int size) ? size : throw new ArgumentOutOfRangeException(nameof(type), type, null);
}
