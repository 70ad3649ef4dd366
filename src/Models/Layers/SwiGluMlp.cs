using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// The Llama-family MLP, down(silu(gate(x)) * up(x)), with gate and up fused into one matmul
/// (<c>gate_up_proj</c>; <see cref="ParameterFusion"/> maps HF's gate_proj/up_proj onto its rows).
/// fp32 inference on the CPU combines the halves with <see cref="SwiGluKernel"/>.
/// </summary>
internal sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Linear gate_up_proj;
    readonly Linear down_proj;
#pragma warning restore IDE1006
    readonly long _intermediate;
    readonly bool _kernel;

    public SwiGluMlp(long hidden, long intermediate, bool bias, ModelOptions options) : base(nameof(SwiGluMlp))
    {
        _intermediate = intermediate;
        _kernel = options.FusedCpuKernels;
        gate_up_proj = new Linear(hidden, 2 * intermediate, bias, options);
        down_proj = new Linear(intermediate, hidden, bias, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gateUp = gate_up_proj.forward(x);
        if (_kernel && SwiGluKernel.Supports(gateUp)) return down_proj.forward(SwiGluKernel.Apply(gateUp)).MoveToOuterDisposeScope();
        var gate = gateUp.narrow(-1, 0, _intermediate);
        var up = gateUp.narrow(-1, _intermediate, _intermediate);
        return down_proj.forward(nn.functional.silu(gate) * up).MoveToOuterDisposeScope();
    }
}
