namespace Rollout.Engine;

/// <summary>A snapshot of what the engine is doing and how fast.</summary>
public sealed record EngineMetrics
{
    /// <summary>Sequences waiting to be scheduled (new or preempted).</summary>
    public int Waiting { get; init; }
    /// <summary>Sequences holding KV and being stepped.</summary>
    public int Running { get; init; }
    /// <summary>Fraction of KV blocks in use (0..1).</summary>
    public double KvCacheUsage { get; init; }
    /// <summary>Prompt tokens served from the prefix cache over prompt tokens looked up (0..1).</summary>
    public double PrefixCacheHitRate { get; init; }
    /// <summary>Sequences preempted so far.</summary>
    public long Preemptions { get; init; }
    /// <summary>Engine steps run so far.</summary>
    public long Steps { get; init; }
    /// <summary>Prompt tokens computed (prefill, recompute) so far.</summary>
    public long PromptTokensComputed { get; init; }
    /// <summary>Tokens generated so far.</summary>
    public long GeneratedTokens { get; init; }
    /// <summary>Generated tokens per second of engine busy time.</summary>
    public double GeneratedTokensPerSecond { get; init; }
    /// <summary>Mean time from arrival to first token over requests that produced one.</summary>
    public TimeSpan MeanTimeToFirstToken { get; init; }
    /// <summary>Mean wall time of a step.</summary>
    public TimeSpan MeanStepTime { get; init; }
    /// <summary>Mean wall time of steps that only decoded (one token per sequence).</summary>
    public TimeSpan MeanDecodeStepTime { get; init; }
    /// <summary>Mean number of sequences in decode-only steps.</summary>
    public double MeanDecodeBatchSize { get; init; }
    /// <summary>Mean time per step of each phase: where a step's time goes.</summary>
    public StepProfile StepProfile { get; init; } = new(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
    /// <summary>The weight version new tokens are generated with.</summary>
    public long WeightVersion { get; init; }
    /// <summary>Tokens proposed and verified by speculative decoding so far.</summary>
    public long SpeculativeProposedTokens { get; init; }
    /// <summary>Of <see cref="SpeculativeProposedTokens"/>, those the rejection sampler kept.</summary>
    public long SpeculativeAcceptedTokens { get; init; }
    /// <summary>Sequence verifications so far: one per speculating sequence and step.</summary>
    public long SpeculativeVerifications { get; init; }
    /// <summary>Steps that verified at least one proposal.</summary>
    public long SpeculativeSteps { get; init; }
    /// <summary>Time spent proposing, in all.</summary>
    public TimeSpan SpeculativeProposerTime { get; init; }
    /// <summary>Kept proposals over proposed ones (0..1); 0 before any.</summary>
    public double SpeculativeAcceptanceRate => SpeculativeProposedTokens == 0 ? 0 : (double)SpeculativeAcceptedTokens / SpeculativeProposedTokens;
    /// <summary>Proposals kept per verification (0..k); each verification emits this many tokens plus one.</summary>
    public double MeanAcceptedLength => SpeculativeVerifications == 0 ? 0 : (double)SpeculativeAcceptedTokens / SpeculativeVerifications;
}

/// <summary>Mean wall time per step of each phase.</summary>
/// <param name="Schedule">Choosing the batch and allocating its KV slots.</param>
/// <param name="Model">Packing, the forward pass and the logits.</param>
/// <param name="Sample">The sampler over all sampling rows.</param>
/// <param name="Apply">Appending tokens, finish checks, detokenization, outputs.</param>
public sealed record StepProfile(TimeSpan Schedule, TimeSpan Model, TimeSpan Sample, TimeSpan Apply);
