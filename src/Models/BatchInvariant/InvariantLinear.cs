using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.BatchInvariant;

/// <summary>
/// y = x Wᵀ + b through <see cref="BatchInvariantGemm"/>, recorded for autograd when a gradient is wanted: the
/// forward is the kernel's, the backward libtorch's products (gradients need no bit-exactness, only the values
/// a trainer's loss sees do).
/// </summary>
internal sealed class InvariantLinear : autograd.SingleTensorFunction<InvariantLinear>
{
    public override string Name => nameof(InvariantLinear);

    /// <summary>Whether <see cref="Apply"/> can take these operands.</summary>
    public static bool Fits(Tensor input, Tensor weight, Tensor? bias) => BatchInvariantGemm.Fits(input, weight, bias);

    /// <summary>x Wᵀ + b, with a graph node when autograd records and any operand wants a gradient.</summary>
    public static Tensor Apply(Tensor input, Tensor weight, Tensor? bias) =>
        AutogradRecording.Wanted(input, weight, bias) ? apply(input, weight, bias) : BatchInvariantGemm.Multiply(input, weight, bias);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], vars[2] as Tensor);
        ctx.save_for_backward([input, weight]);
        ctx.save_data("bias", bias is not null);
        return BatchInvariantGemm.Multiply(input, weight, bias);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (input, weight) = (saved[0], saved[1]);
        var g = gradOutput.reshape(-1, weight.shape[0]);
        var gradInput = g.mm(weight).view(input.shape);
        var gradWeight = g.t().mm(input.reshape(-1, weight.shape[1]));
        var gradBias = (bool)ctx.get_data("bias") ? g.sum(dim: 0) : null;
        return [gradInput, gradWeight, gradBias!];
    }
}
