using System.Numerics;

namespace Rollout.Engine.Speculation;

/// <summary>
/// Decides, step by step, whether the engine speculates, and keeps the speculation statistics. Steps that only
/// decode are measured in generated tokens per second, speculative and plain apart, per batch-size class (a power
/// of two). Where speculating measured slower it stays off, and is tried again every <see cref="ProbeInterval"/>
/// steps of that class; where it measured faster, a plain step every <see cref="ProbeInterval"/> keeps the plain
/// figure fresh. Low acceptance and compute-bound batches both show as speculation measuring slower.
/// </summary>
internal sealed class SpeculationController(SpeculativeOptions options)
{
    const int ProbeInterval = 16;
    const double Smoothing = 0.25;

    readonly Dictionary<int, BatchClass> _classes = [];

    public long Proposed { get; private set; }
    public long Accepted { get; private set; }
    public long VerifiedSequences { get; private set; }
    public long ProposerTicks { get; private set; }
    public long SpeculativeSteps { get; private set; }

    /// <summary>Whether a step whose batch holds <paramref name="decoding"/> decoding sequences should ask for proposals.</summary>
    public bool ShouldSpeculate(int decoding)
    {
        if (decoding == 0 || decoding > options.MaxBatchSize) return false;
        if (!options.Adaptive) return true;
        var c = Class(decoding);
        c.Steps++;
        if (c.Speculative.Count == 0) return true;
        if (c.Plain.Count == 0) return false;
        bool faster = c.Speculative.Rate >= c.Plain.Rate;
        bool probe = c.Steps % ProbeInterval == 0;
        return faster != probe;
    }

    /// <summary>Time spent proposing, counted whether or not anything was proposed.</summary>
    public void RecordProposer(long ticks) => ProposerTicks += ticks;

    /// <summary>One sequence's verification: <paramref name="proposed"/> tokens scored, the first <paramref name="accepted"/> kept.</summary>
    public void RecordVerification(int proposed, int accepted)
    {
        Proposed += proposed;
        Accepted += accepted;
        VerifiedSequences++;
    }

    /// <summary>A step that only decoded <paramref name="decoding"/> sequences: how many tokens it generated, in how long.</summary>
    public void RecordDecodeStep(int decoding, bool speculative, int generated, long ticks)
    {
        if (speculative) SpeculativeSteps++;
        if (!options.Adaptive || decoding == 0 || ticks <= 0) return;
        var c = Class(decoding);
        (speculative ? c.Speculative : c.Plain).Add(generated / (double)ticks);
    }

    BatchClass Class(int decoding)
    {
        int key = BitOperations.Log2((uint)decoding);
        if (!_classes.TryGetValue(key, out var c)) _classes[key] = c = new BatchClass();
        return c;
    }

    sealed class BatchClass
    {
        public long Steps;
        public readonly Throughput Speculative = new(), Plain = new();
    }

    sealed class Throughput
    {
        public int Count { get; private set; }
        public double Rate { get; private set; }

        public void Add(double rate)
        {
            Rate = Count == 0 ? rate : Rate + Smoothing * (rate - Rate);
            Count++;
        }
    }
}
