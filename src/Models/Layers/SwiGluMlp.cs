using Rollout.Models.BatchInvariant;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// The Llama-family MLP with the residual add after it, residual + down(silu(gate(x)) * up(x)), gate and up
/// fused into one matmul (<c>gate_up_proj</c>; <see cref="ParameterFusion"/> maps HF's gate_proj/up_proj
/// onto its rows). fp32 inference on the CPU takes the activation out of the gate-up product itself
/// (<see cref="PanelEpilogue.SwiGlu"/>) and adds the down product into the residual
/// (<see cref="Linear.ForwardAdd"/>); without packed weights it combines the halves with <see cref="SwiGluKernel"/>.
/// </summary>
internal sealed class SwiGluMlp : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // HF parameter names
    readonly Linear gate_up_proj;
    readonly Linear down_proj;
#pragma warning restore IDE1006
    readonly long _intermediate;
    readonly bool _kernel;
    readonly bool _batchInvariant;

    public SwiGluMlp(long hidden, long intermediate, bool bias, ModelOptions options) : base(nameof(SwiGluMlp))
    {
        _intermediate = intermediate;
        _kernel = options.FastCpuKernels;
        _batchInvariant = options.BatchInvariant;
        // A weight whose halves are not whole panels keeps the plain layout, so it is still packed.
        bool activateInProduct = options.FastCpuKernels && !bias && PanelLayout.GateUp.Fits((int)(2 * intermediate));
        gate_up_proj = new Linear(hidden, 2 * intermediate, bias, options, activateInProduct ? PanelLayout.GateUp : PanelLayout.Plain);
        down_proj = new Linear(intermediate, hidden, bias, options);
        RegisterComponents();
    }

    /// <summary>
    /// <paramref name="residual"/> + the MLP of <paramref name="x"/>; the sum may be written into
    /// <paramref name="residual"/> and returned (see <see cref="Linear.ForwardAdd"/>).
    /// </summary>
    public override Tensor forward(Tensor x, Tensor residual)
    {
        using var scope = NewDisposeScope();
        var sum = down_proj.ForwardAdd(Activate(x), residual);
        return ReferenceEquals(sum, residual) ? sum : sum.MoveToOuterDisposeScope();
    }

    Tensor Activate(Tensor x)
    {
        if (gate_up_proj.TryForwardSwiGlu(x, out var activated)) return activated;
        var gateUp = gate_up_proj.forward(x);
        if (_kernel && SwiGluKernel.Supports(gateUp)) return SwiGluKernel.Apply(gateUp);
        if (_batchInvariant && InvariantSwiGlu.Fits(gateUp)) return InvariantSwiGlu.Apply(gateUp);
        var gate = gateUp.narrow(-1, 0, _intermediate);
        var up = gateUp.narrow(-1, _intermediate, _intermediate);
        return nn.functional.silu(gate) * up;
    }
}
