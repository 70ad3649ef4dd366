using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>The Llama-family MLP: down(silu(gate(x)) * up(x)).</summary>
internal sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Linear gate_proj;
    readonly Linear up_proj;
    readonly Linear down_proj;
#pragma warning restore IDE1006

    public SwiGluMlp(long hidden, long intermediate, bool bias, ScalarType dtype, Device device) : base(nameof(SwiGluMlp))
    {
        gate_proj = new Linear(hidden, intermediate, bias, dtype, device);
        up_proj = new Linear(hidden, intermediate, bias, dtype, device);
        down_proj = new Linear(intermediate, hidden, bias, dtype, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}
