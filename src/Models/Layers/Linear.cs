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

    public Linear(long inFeatures, long outFeatures, bool hasBias, ModelOptions options) : base(nameof(Linear))
    {
        weight = new Parameter(empty([outFeatures, inFeatures], options.DType, options.Device));
        bias = hasBias ? new Parameter(empty(outFeatures, options.DType, options.Device)) : null;
        _product = new CpuPackedLinear(weight, bias, options.PackCpuWeights);
        RegisterComponents();
    }

    public Tensor Weight => weight;

    public override Tensor forward(Tensor input) => _product.Forward(input);

    /// <summary>Makes the packed inference copy of the weight now (see <see cref="CpuPackedLinear"/>).</summary>
    public void PrepareInference() => _product.Prepare();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _product.Dispose();
        base.Dispose(disposing);
    }
}
