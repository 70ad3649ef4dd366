using System.Diagnostics;
using Rollout.Engine.KvCache;
using Rollout.Engine.Scheduling;

namespace Rollout.Engine.Core;

/// <summary>Running totals behind <see cref="EngineMetrics"/>.</summary>
internal sealed class EngineStatistics
{
    long _steps, _busyTicks, _decodeSteps, _decodeTicks, _decodeSequences;
    long _promptTokens, _generatedTokens, _preemptions;
    long _firstTokens, _firstTokenTicks;
    long _scheduleTicks, _modelTicks, _sampleTicks, _applyTicks;

    /// <param name="promptTokens">Prompt tokens fed this step (prefill or recompute).</param>
    /// <param name="sequences">Sequences in the step.</param>
    /// <param name="decodeOnly">Whether every sequence fed just its one last generated token.</param>
    /// <param name="preempted">Sequences preempted while scheduling it.</param>
    /// <param name="sampled">Tokens generated.</param>
    /// <param name="phases">Where the step's wall time went.</param>
    public void RecordStep(int promptTokens, int sequences, bool decodeOnly, int preempted, int sampled, StepPhases phases)
    {
        long elapsedTicks = phases.Total;
        _scheduleTicks += phases.Schedule;
        _modelTicks += phases.Model;
        _sampleTicks += phases.Sample;
        _applyTicks += phases.Apply;
        _steps++;
        _busyTicks += elapsedTicks;
        _preemptions += preempted;
        _generatedTokens += sampled;
        _promptTokens += promptTokens;
        if (decodeOnly)
        {
            _decodeSteps++;
            _decodeTicks += elapsedTicks;
            _decodeSequences += sequences;
        }
    }

    public void RecordFirstToken(long ticksSinceArrival)
    {
        _firstTokens++;
        _firstTokenTicks += ticksSinceArrival;
    }

    public EngineMetrics Snapshot(Scheduler scheduler, KvCacheManager kvCache, long weightVersion) => new()
    {
        Waiting = scheduler.Waiting.Count,
        Running = scheduler.Running.Count,
        KvCacheUsage = kvCache.Usage,
        PrefixCacheHitRate = kvCache.PrefixHitRate,
        Preemptions = _preemptions,
        Steps = _steps,
        PromptTokensComputed = _promptTokens,
        GeneratedTokens = _generatedTokens,
        GeneratedTokensPerSecond = _busyTicks == 0 ? 0 : _generatedTokens / Seconds(_busyTicks),
        MeanTimeToFirstToken = _firstTokens == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Seconds(_firstTokenTicks) / _firstTokens),
        MeanStepTime = _steps == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Seconds(_busyTicks) / _steps),
        MeanDecodeStepTime = _decodeSteps == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Seconds(_decodeTicks) / _decodeSteps),
        MeanDecodeBatchSize = _decodeSteps == 0 ? 0 : (double)_decodeSequences / _decodeSteps,
        WeightVersion = weightVersion,
        StepProfile = _steps == 0 ? new StepProfile(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero)
            : new StepProfile(Mean(_scheduleTicks), Mean(_modelTicks), Mean(_sampleTicks), Mean(_applyTicks)),
    };

    TimeSpan Mean(long ticks) => TimeSpan.FromSeconds(Seconds(ticks) / _steps);

    static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;
}

/// <summary>Wall-clock ticks of one step's phases.</summary>
internal readonly record struct StepPhases(long Schedule, long Model, long Sample, long Apply)
{
    public long Total => Schedule + Model + Sample + Apply;
}
