using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>RMSNorm as HF computes it: statistics in fp32, then the weight applied in the input's dtype.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Parameter weight;
#pragma warning restore IDE1006
    readonly double _eps;

    public RmsNorm(long size, double eps, ScalarType dtype, Device device) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size, dtype, device));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.to(ScalarType.Float32);
        x = x * rsqrt(x.pow(2).mean([-1], keepdim: true) + _eps);
        return (weight * x.to(input.dtype)).MoveToOuterDisposeScope();
    }
}
