using Rollout.Models.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models;

/// <summary>Fills a model's parameters from a checkpoint by name, all-or-nothing.</summary>
internal static class WeightLoader
{
    public static void Load(TransformerModel model, ICheckpointReader checkpoint)
    {
        using var scope = NewDisposeScope();
        var parameters = model.CheckpointTensors();
        var available = checkpoint.TensorNames.ToHashSet(StringComparer.Ordinal);
        var missing = parameters.Keys.Where(n => !available.Contains(n)).ToList();
        if (missing.Count > 0)
            throw new CheckpointFormatException($"checkpoint lacks {missing.Count} parameter(s) of {model.Config.Architecture}: {Preview(missing)}");
        var unexpected = available.Where(n => !parameters.ContainsKey(n) && !model.IgnoresCheckpointTensor(n)).Order().ToList();
        if (unexpected.Count > 0)
            throw new CheckpointFormatException($"checkpoint holds {unexpected.Count} tensor(s) {model.Config.Architecture} has no parameter for: {Preview(unexpected)}");
        foreach (var (name, parameter) in parameters)
        {
            var info = checkpoint.Describe(name);
            if (!info.Shape.SequenceEqual(parameter.shape))
                throw new CheckpointFormatException($"'{name}' has shape [{string.Join(", ", info.Shape)}] in the checkpoint but the model expects [{string.Join(", ", parameter.shape)}]");
            if (!IsFloating(info.DType))
                throw new CheckpointFormatException($"'{name}' is stored as {info.DType}; parameters must be floating point");
        }
        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            using var source = checkpoint.Read(name);
            parameter.copy_(source);
        }
    }

    static bool IsFloating(ScalarType t) => t is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;

    static string Preview(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
}
