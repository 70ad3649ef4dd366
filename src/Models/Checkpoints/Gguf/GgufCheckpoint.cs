using Rollout.Models.Configuration;
using TorchSharp;

namespace Rollout.Models.Checkpoints.Gguf;

/// <summary>
/// A llama-architecture GGUF file seen as a Hugging Face checkpoint: tensors under their HF names, q
/// and k rows back in HF's rotate-half RoPE order, shapes row-major. A file without
/// <c>output.weight</c> has tied embeddings and so no <c>lm_head.weight</c>.
/// </summary>
public sealed class GgufCheckpoint : ICheckpointReader
{
    readonly bool ownsFile;
    readonly Dictionary<string, (GgufTensorInfo Info, int? RopeHeads)> tensors = new(StringComparer.Ordinal);

    /// <summary>Reads <paramref name="file"/>, which stays the caller's to dispose.</summary>
    /// <exception cref="CheckpointFormatException">A tensor is quantized, has no HF counterpart, or has the wrong shape for the configuration.</exception>
    /// <exception cref="ModelConfigException">The metadata does not describe a supported llama model.</exception>
    public GgufCheckpoint(GgufFile file) : this(file, ownsFile: false)
    {
    }

    GgufCheckpoint(GgufFile file, bool ownsFile)
    {
        File = file;
        this.ownsFile = ownsFile;
        Config = GgufModelConfig.From(file);
        foreach (var info in file.Tensors)
        {
            if (GgmlTypes.TorchType(info.Type) is null) throw GgmlTypes.Quantized(info.Name, info.Type);
            if (info.Name == "rope_freqs.weight")
                throw new CheckpointFormatException(
                    $"{file.Path}: rope_freqs.weight holds per-frequency RoPE factors (Llama 3.1-style scaling), which GGUF loading does not apply yet; refusing rather than running with plain RoPE");
            string hfName = LlamaGgufLayout.ToHf(info.Name)
                ?? throw new CheckpointFormatException($"{file.Path}: tensor '{info.Name}' has no Hugging Face counterpart in the llama layout");
            int? ropeHeads = LlamaGgufLayout.RopeHeads(info.Name, Config.NumAttentionHeads, Config.NumKeyValueHeads);
            if (ropeHeads is { } h && info.Dimensions[^1] != (long)h * Config.HeadDim)
                throw new CheckpointFormatException(
                    $"{file.Path}: tensor '{info.Name}' has {info.Dimensions[^1]} rows, expected {h} heads x {Config.HeadDim}");
            tensors.Add(hfName, (info, ropeHeads));
        }
    }

    /// <summary>Opens <paramref name="path"/>; disposing the checkpoint closes the file.</summary>
    /// <exception cref="CheckpointFormatException">The file is malformed or holds tensors this reader cannot load.</exception>
    /// <exception cref="ModelConfigException">The metadata does not describe a supported llama model.</exception>
    public static GgufCheckpoint Open(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            return new GgufCheckpoint(file, ownsFile: true);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The underlying file, for its metadata and tokenizer.</summary>
    public GgufFile File { get; }

    /// <summary>The model configuration from the file's metadata.</summary>
    public ModelConfig Config { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<string> TensorNames => tensors.Keys;

    /// <inheritdoc />
    public TensorInfo Describe(string name)
    {
        var info = Find(name).Info;
        return new TensorInfo(GgmlTypes.TorchType(info.Type)!.Value, info.Shape);
    }

    /// <inheritdoc />
    public torch.Tensor Read(string name)
    {
        var (info, ropeHeads) = Find(name);
        var stored = File.Read(info.Name);
        if (ropeHeads is not { } heads) return stored;
        using (stored) return LlamaGgufLayout.ToRotateHalf(stored, heads);
    }

    /// <summary>Closes the file if this checkpoint opened it.</summary>
    public void Dispose()
    {
        if (ownsFile) File.Dispose();
    }

    (GgufTensorInfo Info, int? RopeHeads) Find(string name) =>
        tensors.TryGetValue(name, out var entry) ? entry : throw new KeyNotFoundException($"{File.Path} has no tensor '{name}' (as a Hugging Face name)");
}
