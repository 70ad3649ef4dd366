using Rollout.Models.BatchInvariant;
using Rollout.Models.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// RMSNorm as HF computes it: statistics in fp32, then the weight applied in the input's dtype. fp32
/// inference on the CPU takes <see cref="RmsNormKernel"/>, as does the batch-invariant mode in training too.
/// </summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Parameter weight;
#pragma warning restore IDE1006
    readonly double _eps;
    readonly bool _kernel;
    readonly bool _batchInvariant;

    public RmsNorm(long size, double eps, ModelOptions options) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size, options.DType, options.Device));
        _eps = eps;
        _kernel = options.FastCpuKernels;
        _batchInvariant = options.BatchInvariant;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        if (_kernel && RmsNormKernel.Supports(input, weight)) return RmsNormKernel.Normalize(input, weight, _eps);
        if (_batchInvariant && InvariantRmsNorm.Fits(input, weight)) return InvariantRmsNorm.Apply(input, weight, _eps);
        using var scope = NewDisposeScope();
        var x = input.to(ScalarType.Float32);
        x = x * rsqrt(x.pow(2).mean([-1], keepdim: true) + _eps);
        return (weight * x.to(input.dtype)).MoveToOuterDisposeScope();
    }
}
