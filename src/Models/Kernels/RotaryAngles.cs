namespace Rollout.Models.Kernels;

/// <summary>
/// Each input row's position and the rotary tables ([length, head_dim] cos and sin, HF's layout) for a
/// product that rotates its outputs (<see cref="PanelEpilogue.Rotate"/>). Positions are checked against the
/// tables by the caller.
/// </summary>
internal readonly unsafe struct RotaryAngles(long* positions, float* cos, float* sin, int headDim)
{
    public readonly long* Positions = positions;
    public readonly float* Cos = cos, Sin = sin;
    public readonly int HeadDim = headDim;
}
