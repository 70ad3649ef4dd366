using TorchSharp;

namespace Rollout.WeightSync;

/// <summary>The dtypes an update may carry, by their safetensors names.</summary>
internal static class WeightDType
{
    public static torch.ScalarType Parse(string name, string tensor) => name switch
    {
        "F32" => torch.ScalarType.Float32,
        "F16" => torch.ScalarType.Float16,
        "BF16" => torch.ScalarType.BFloat16,
        _ => throw new WeightUpdateException($"'{tensor}' has dtype '{name}': updates carry F32, F16 or BF16"),
    };

    public static string Name(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float32 => "F32",
        torch.ScalarType.Float16 => "F16",
        torch.ScalarType.BFloat16 => "BF16",
        _ => throw new WeightUpdateException($"tensors of {type} cannot be sent: updates carry F32, F16 or BF16"),
    };

    public static int Size(torch.ScalarType type) => type == torch.ScalarType.Float32 ? 4 : 2;
}
