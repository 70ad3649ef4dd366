using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>Token embedding with HF's parameter name (<c>weight</c>, [vocab, hidden]); uninitialised until loaded.</summary>
internal sealed class Embedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Parameter weight;
#pragma warning restore IDE1006

    public Embedding(long vocab, long hidden, ScalarType dtype, Device device) : base(nameof(Embedding))
    {
        weight = new Parameter(empty([vocab, hidden], dtype, device));
        RegisterComponents();
    }

    public Tensor Weight => weight;

    public override Tensor forward(Tensor ids) => weight.index_select(0, ids);
}
