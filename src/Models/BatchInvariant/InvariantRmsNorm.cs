using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.BatchInvariant;

/// <summary>
/// RMSNorm through <see cref="RmsNormKernel"/> (each row alone, in one fixed order), recorded for autograd when a
/// gradient is wanted, with libtorch's backward.
/// </summary>
internal sealed class InvariantRmsNorm : autograd.SingleTensorFunction<InvariantRmsNorm>
{
    public override string Name => nameof(InvariantRmsNorm);

    /// <summary>Whether <see cref="Apply"/> can take these operands.</summary>
    public static bool Fits(Tensor input, Tensor weight) => RmsNormKernel.Fits(input, weight);

    /// <summary>weight * x / sqrt(mean(x²) + eps) per row, with a graph node when autograd records.</summary>
    public static Tensor Apply(Tensor input, Tensor weight, double eps) =>
        AutogradRecording.Wanted(input, weight) ? apply(input, weight, eps) : RmsNormKernel.Normalize(input, weight, eps);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight, eps) = ((Tensor)vars[0], (Tensor)vars[1], (double)vars[2]);
        ctx.save_for_backward([input, weight]);
        ctx.save_data("eps", eps);
        return RmsNormKernel.Normalize(input, weight, eps);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (x, weight) = (saved[0], saved[1]);
        double eps = (double)ctx.get_data("eps");
        var inverse = rsqrt(x.pow(2).mean([-1], keepdim: true) + eps);
        var scaled = gradOutput * weight;
        // d/dx of x * r(x), r = (mean(x²) + eps)^-1/2: r * g - x * r³ * mean(g * x).
        var gradInput = inverse * scaled - x * inverse.pow(3) * (scaled * x).mean([-1], keepdim: true);
        var gradWeight = (gradOutput * x * inverse).reshape(-1, weight.shape[0]).sum(dim: 0);
        return [gradInput, gradWeight, null!];
    }
}
