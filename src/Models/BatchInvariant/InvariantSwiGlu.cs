using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.BatchInvariant;

/// <summary>
/// silu(gate) * up through <see cref="SwiGluKernel"/> (each row alone), recorded for autograd when a gradient is
/// wanted, with libtorch's backward. libtorch's own silu splits its elements among threads and vector tails by the
/// tensor's size, and a vector exponential and a scalar one may differ in the last bit.
/// </summary>
internal sealed class InvariantSwiGlu : autograd.SingleTensorFunction<InvariantSwiGlu>
{
    public override string Name => nameof(InvariantSwiGlu);

    /// <summary>Whether <see cref="Apply"/> can take this operand.</summary>
    public static bool Fits(Tensor gateUp) => SwiGluKernel.Fits(gateUp);

    /// <summary>silu(gate) * up of a fused gate-up product [.., 2I], with a graph node when autograd records.</summary>
    public static Tensor Apply(Tensor gateUp) => AutogradRecording.Wanted(gateUp) ? apply(gateUp) : SwiGluKernel.Apply(gateUp);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var gateUp = (Tensor)vars[0];
        ctx.save_for_backward([gateUp]);
        return SwiGluKernel.Apply(gateUp);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var gateUp = ctx.get_saved_variables()[0];
        long half = gateUp.shape[^1] / 2;
        var gate = gateUp.narrow(-1, 0, half);
        var up = gateUp.narrow(-1, half, half);
        var sigmoid = gate.sigmoid();
        var gradGate = gradOutput * up * sigmoid * (1 + gate * (1 - sigmoid));
        var gradUp = gradOutput * gate * sigmoid;
        return [cat([gradGate, gradUp], -1)];
    }
}
