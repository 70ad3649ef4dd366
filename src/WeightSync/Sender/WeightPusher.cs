using System.Diagnostics;
using TorchSharp;

namespace Rollout.WeightSync;

/// <summary>How one engine took a push: its commit (version, digests, bytes, seconds), or why it failed.</summary>
public sealed record PushOutcome(string Target, CommitResult? Result, Exception? Error, double Seconds)
{
    /// <summary>Whether the engine committed and its digest matched the sender's.</summary>
    public bool Succeeded => Result is not null && Error is null;
}

/// <summary>
/// The trainer's call after a training step: pushes a module's state, or a name-to-tensor map, to one
/// or many engines over any mix of channels at once, and returns per engine what happened, once all
/// committed or failed. A commit whose digest differs from the one computed here over the tensors sent
/// (converted to the engine's dtype) counts as failed.
/// </summary>
public static class WeightPusher
{
    /// <summary>Pushes every parameter of <paramref name="module"/> under its own name.</summary>
    public static Task<IReadOnlyList<PushOutcome>> PushAsync(torch.nn.Module module, IReadOnlyList<IWeightSender> senders, PushOptions options,
        torch.ScalarType engineDType, IProgress<(string Target, long Bytes)>? progress = null, CancellationToken cancellationToken = default) =>
        PushAsync(module.named_parameters().ToDictionary(p => p.name, p => (torch.Tensor)p.parameter), senders, options, engineDType, progress, cancellationToken);

    /// <summary>Pushes <paramref name="tensors"/> to every sender's engine concurrently.</summary>
    public static async Task<IReadOnlyList<PushOutcome>> PushAsync(IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyList<IWeightSender> senders,
        PushOptions options, torch.ScalarType engineDType, IProgress<(string Target, long Bytes)>? progress = null, CancellationToken cancellationToken = default)
    {
        string expected = await Task.Run(() => ManifestBuilder.ExpectedDigest(tensors, engineDType), cancellationToken);
        return await Task.WhenAll(senders.Select(sender => Task.Run(async () =>
        {
            var watch = Stopwatch.StartNew();
            try
            {
                var bytes = progress is null ? null : new Progress<long>(b => progress.Report((sender.Target, b)));
                var result = await sender.PushAsync(tensors, options, bytes, cancellationToken);
                var error = result.UpdatedSha256 == expected ? null
                    : new WeightUpdateException($"{sender.Target} reports digest {result.UpdatedSha256} for the tensors sent; the sender computed {expected}");
                return new PushOutcome(sender.Target, result, error, watch.Elapsed.TotalSeconds);
            }
            catch (Exception e)
            {
                return new PushOutcome(sender.Target, null, e, watch.Elapsed.TotalSeconds);
            }
        }, cancellationToken)));
    }
}
