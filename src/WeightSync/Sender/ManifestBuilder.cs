using Rollout.Models.Native;
using Rollout.WeightSync.Receiver;
using TorchSharp;

namespace Rollout.WeightSync;

/// <summary>The sender's half of the protocol: the manifest of a set of tensors (dtype, shape, bytes, XxHash3), and the digest it expects back.</summary>
public static class ManifestBuilder
{
    /// <summary>The manifest announcing <paramref name="tensors"/> under <paramref name="options"/>.</summary>
    public static UpdateManifest Build(IReadOnlyDictionary<string, torch.Tensor> tensors, PushOptions options)
    {
        var specs = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => Spec(t.Key, t.Value)).ToArray();
        return new UpdateManifest(options.Version, options.Partial, options.InFlight, specs);
    }

    /// <summary>
    /// The digest an engine of <paramref name="engineDType"/> reports as <see cref="CommitResult.UpdatedSha256"/>
    /// after taking <paramref name="tensors"/>: theirs, converted as the engine converts them.
    /// </summary>
    public static string ExpectedDigest(IReadOnlyDictionary<string, torch.Tensor> tensors, torch.ScalarType engineDType)
    {
        using var scope = torch.NewDisposeScope();
        return WeightDigest.Compute(tensors.Select(t => KeyValuePair.Create(t.Key, t.Value.dtype == engineDType ? t.Value : t.Value.to(engineDType))));
    }

    /// <summary>A tensor's entry: its bytes hashed where they lie when on the CPU and contiguous, else from a contiguous CPU copy.</summary>
    public static unsafe TensorSpec Spec(string name, torch.Tensor tensor)
    {
        string dtype = WeightDType.Name(tensor.dtype);
        using var cpu = Contiguous(tensor);
        long bytes = cpu.numel() * WeightDType.Size(cpu.dtype);
        ulong checksum = bytes == 0 ? StagedTensor.Checksum(null, 0) : StagedTensor.Checksum(TensorData.Bytes(cpu), bytes);
        return new TensorSpec(name, dtype, tensor.shape.ToArray(), bytes, checksum);
    }

    /// <summary>The tensor as contiguous CPU memory (a new handle the caller disposes, sharing memory when it already is).</summary>
    internal static torch.Tensor Contiguous(torch.Tensor tensor) =>
        tensor.device_type == DeviceType.CPU ? tensor.contiguous() : tensor.cpu().contiguous();
}
