using Rollout.WeightSync.Receiver;
using TorchSharp;

namespace Rollout.WeightSync.Channels;

/// <summary>The in-process channel: the trainer's tensors are copied straight into the engine's staging, no serialisation.</summary>
public sealed class InProcessWeightSender(WeightReceiver receiver) : IWeightSender
{
    /// <inheritdoc/>
    public string Target => "in-process";

    /// <inheritdoc/>
    public async Task<CommitResult> PushAsync(IReadOnlyDictionary<string, torch.Tensor> tensors, PushOptions options, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var manifest = ManifestBuilder.Build(tensors, options);
        using var session = receiver.Begin(manifest);
        long sent = 0;
        foreach (var spec in manifest.Tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.Stage(spec.Name, tensors[spec.Name]);
            progress?.Report(sent += spec.ByteLength);
        }
        return await session.CommitAsync(cancellationToken);
    }
}
