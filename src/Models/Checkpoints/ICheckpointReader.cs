using TorchSharp;

namespace Rollout.Models.Checkpoints;

/// <summary>
/// A read-only set of named tensors on disk (safetensors, sharded safetensors, GGUF). Names are the
/// Hugging Face parameter names of the model (<c>model.layers.0.self_attn.q_proj.weight</c>); readers of
/// other layouts map theirs to these.
/// </summary>
public interface ICheckpointReader : IDisposable
{
    /// <summary>Every tensor name in the checkpoint.</summary>
    IReadOnlyCollection<string> TensorNames { get; }

    /// <summary>The stored dtype and shape of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The checkpoint has no tensor of that name.</exception>
    TensorInfo Describe(string name);

    /// <summary>Reads one tensor into a new CPU tensor of its stored dtype.</summary>
    /// <exception cref="KeyNotFoundException">The checkpoint has no tensor of that name.</exception>
    torch.Tensor Read(string name);
}

/// <summary>The stored element type and shape of one checkpoint tensor.</summary>
public sealed record TensorInfo(torch.ScalarType DType, long[] Shape)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
