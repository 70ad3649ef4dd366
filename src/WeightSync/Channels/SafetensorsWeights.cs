using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Safetensors;
using TorchSharp;

namespace Rollout.WeightSync.Channels;

/// <summary>
/// The disk channel: a safetensors checkpoint (one file, a directory, or a sharded directory) read as
/// an update's tensors, memory-mapped. <c>POST /rl/weights/load</c> applies one in place; <c>rollout
/// weights push</c> sends one over HTTP.
/// </summary>
public sealed class SafetensorsWeights : IDisposable
{
    readonly SafetensorsCheckpoint _checkpoint;
    readonly Dictionary<string, torch.Tensor> _tensors = new(StringComparer.Ordinal);

    SafetensorsWeights(SafetensorsCheckpoint checkpoint, IEnumerable<string> names)
    {
        _checkpoint = checkpoint;
        foreach (string name in names) _tensors[name] = checkpoint.Read(name);
    }

    /// <summary>Every tensor of the checkpoint by name (rotary frequency tables, which no model reads, left out).</summary>
    public IReadOnlyDictionary<string, torch.Tensor> Tensors => _tensors;

    /// <summary>Opens <paramref name="path"/>.</summary>
    /// <exception cref="WeightUpdateException">It is not a readable safetensors checkpoint.</exception>
    public static SafetensorsWeights Open(string path)
    {
        SafetensorsCheckpoint checkpoint;
        try
        {
            checkpoint = SafetensorsCheckpoint.Open(path);
        }
        catch (Exception e) when (e is CheckpointFormatException or IOException or UnauthorizedAccessException)
        {
            throw new WeightUpdateException($"cannot read a safetensors checkpoint at '{path}': {e.Message}", e);
        }
        try
        {
            return new SafetensorsWeights(checkpoint, checkpoint.TensorNames.Where(n => !n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)));
        }
        catch (Exception e) when (e is CheckpointFormatException or IOException)
        {
            checkpoint.Dispose();
            throw new WeightUpdateException($"cannot read the tensors of '{path}': {e.Message}", e);
        }
    }

    /// <summary>Frees the tensors and unmaps the files.</summary>
    public void Dispose()
    {
        foreach (var tensor in _tensors.Values) tensor.Dispose();
        _checkpoint.Dispose();
    }
}
