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

    public Linear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device) : base(nameof(Linear))
    {
        weight = new Parameter(empty([outFeatures, inFeatures], dtype, device));
        bias = hasBias ? new Parameter(empty(outFeatures, dtype, device)) : null;
        RegisterComponents();
    }

    public Tensor Weight => weight;

    public override Tensor forward(Tensor input) => nn.functional.linear(input, weight, bias);
}
