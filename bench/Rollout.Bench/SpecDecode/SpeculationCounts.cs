using Rollout.Engine;

namespace Rollout.Bench.SpecDecode;

/// <summary>What speculation did in an engine between two <see cref="EngineMetrics"/> snapshots (warm-up left out).</summary>
internal sealed record SpeculationCounts(long Proposed, long Accepted, long Verifications, long Steps, TimeSpan ProposerTime)
{
    public static SpeculationCounts Between(EngineMetrics before, EngineMetrics after) => new(
        after.SpeculativeProposedTokens - before.SpeculativeProposedTokens,
        after.SpeculativeAcceptedTokens - before.SpeculativeAcceptedTokens,
        after.SpeculativeVerifications - before.SpeculativeVerifications,
        after.SpeculativeSteps - before.SpeculativeSteps,
        after.SpeculativeProposerTime - before.SpeculativeProposerTime);

    public static SpeculationCounts operator +(SpeculationCounts a, SpeculationCounts b) => new(
        a.Proposed + b.Proposed, a.Accepted + b.Accepted, a.Verifications + b.Verifications, a.Steps + b.Steps, a.ProposerTime + b.ProposerTime);

    /// <summary>Kept proposals over proposed ones, as <see cref="EngineMetrics.SpeculativeAcceptanceRate"/>.</summary>
    public double AcceptanceRate => Proposed == 0 ? 0 : (double)Accepted / Proposed;

    /// <summary>Proposals kept per verification, as <see cref="EngineMetrics.MeanAcceptedLength"/>.</summary>
    public double MeanAcceptedLength => Verifications == 0 ? 0 : (double)Accepted / Verifications;
}
