using Rollout.Models.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// y = x Wᵀ + b with HF's parameter names and layout ([out, in]). Weights start uninitialised: a
/// checkpoint or a seeded initialiser fills them, so construction costs no random draws.
/// </summary>
internal sealed class Linear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Parameter weight;
    readonly Parameter? bias;
#pragma warning restore IDE1006

    readonly CpuPackedLinear _product;

    /// <summary>A layer of [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>] whose packed copy orders its rows by <paramref name="layout"/> (see <see cref="CpuPackedLinear"/>).</summary>
    public Linear(long inFeatures, long outFeatures, bool hasBias, ModelOptions options, PanelLayout layout = default) : base(nameof(Linear))
    {
        weight = new Parameter(empty([outFeatures, inFeatures], options.DType, options.Device));
        bias = hasBias ? new Parameter(empty(outFeatures, options.DType, options.Device)) : null;
        _product = new CpuPackedLinear(weight, bias, options.FastCpuKernels, layout, options.BatchInvariant);
        RegisterComponents();
    }

    public Tensor Weight => weight;

    /// <summary>Whether the last product went through the packed copy (for tests and benchmarks).</summary>
    public bool LastUsedPacked => _product.LastUsedPacked;

    public override Tensor forward(Tensor input) => _product.Forward(input);

    /// <summary><paramref name="residual"/> + this layer's output, added into <paramref name="residual"/> where the packed product applies.</summary>
    public Tensor ForwardAdd(Tensor input, Tensor residual) => _product.ForwardAdd(input, residual);

    /// <summary>SwiGLU's activation straight out of a gated layer's packed product, where it applies.</summary>
    public bool TryForwardSwiGlu(Tensor input, out Tensor activated) => _product.TryForwardSwiGlu(input, out activated);

    /// <summary>The output with its rotary heads already rotated, straight out of a rotary layer's packed product, where it applies.</summary>
    public bool TryForwardRotated(Tensor input, Tensor positions, Tensor cos, Tensor sin, out Tensor output) =>
        _product.TryForwardRotated(input, positions, cos, sin, out output);

    /// <summary>The product behind this layer (its packed copy, for weight updates that pack ahead).</summary>
    internal CpuPackedLinear Product => _product;

    /// <summary>Makes the packed inference copy of the weight now (see <see cref="CpuPackedLinear"/>).</summary>
    public void PrepareInference() => _product.Prepare();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _product.Dispose();
        base.Dispose(disposing);
    }
}
