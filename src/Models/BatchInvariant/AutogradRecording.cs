using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.BatchInvariant;

/// <summary>When the batch-invariant functions record a graph node: only then do they pay for a custom autograd function.</summary>
internal static class AutogradRecording
{
    /// <summary>Whether autograd records now and any of <paramref name="operands"/> wants a gradient.</summary>
    public static bool Wanted(params Tensor?[] operands) => is_grad_enabled() && operands.Any(t => t is { requires_grad: true });
}
