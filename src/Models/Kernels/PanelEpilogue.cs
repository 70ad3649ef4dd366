namespace Rollout.Models.Kernels;

/// <summary>
/// What <see cref="PanelGemm"/> does with each finished tile of x Wᵀ. The work folded in here was a pass
/// of its own over the activations, on one thread, between two products.
/// </summary>
internal enum PanelEpilogue
{
    /// <summary>output = x Wᵀ.</summary>
    Store,

    /// <summary>output += x Wᵀ: the residual add after an output projection.</summary>
    Accumulate,

    /// <summary>
    /// An up panel of a <see cref="PanelLayout.GateUp"/> weight: output = silu(gate) * (x W_upᵀ), where gate
    /// is what its gate panel stored.
    /// </summary>
    SwiGlu,

    /// <summary>
    /// A high-half panel of a <see cref="PanelLayout.Rotary"/> weight: the low half its partner stored and
    /// this high half, rotated by each row's position (<see cref="RotaryAngles"/>) as HF's rotate-half does.
    /// </summary>
    Rotate,
}
