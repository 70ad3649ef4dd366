using TorchSharp;

namespace Rollout.WeightSync;

/// <summary>The trainer's side of one channel to one engine.</summary>
public interface IWeightSender
{
    /// <summary>The engine this sender reaches, for reports (a URL, "in-process", a path).</summary>
    string Target { get; }

    /// <summary>
    /// Sends <paramref name="tensors"/> as one update and returns once the engine committed it (its new
    /// weights live) or refused it. <paramref name="progress"/> hears the bytes sent so far.
    /// </summary>
    /// <exception cref="WeightUpdateException">The engine refused or failed the update; it keeps its previous weights.</exception>
    Task<CommitResult> PushAsync(IReadOnlyDictionary<string, torch.Tensor> tensors, PushOptions options, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default);
}
