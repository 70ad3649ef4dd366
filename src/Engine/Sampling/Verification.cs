namespace Rollout.Engine.Sampling;

/// <summary>One sequence to verify: its sampling row at its last token, and the tokens proposed to follow it.</summary>
internal sealed record Verification(SamplingRow Row, int[] Proposal);
