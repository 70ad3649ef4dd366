namespace Rollout.Bench.SpecDecode;

/// <summary>The sizes of <c>rollout bench specdecode</c>: both workloads' lengths and how often each pair of runs repeats.</summary>
/// <param name="CopyNewTokens">New tokens per copy-heavy (stories260K) request.</param>
/// <param name="PlainPromptTokens">Random prompt tokens per ordinary request.</param>
/// <param name="PlainNewTokens">New tokens per ordinary request.</param>
/// <param name="PlainBatch1Prompts">Ordinary prompts run one at a time (the first of them): that model is slow at batch 1.</param>
/// <param name="Repetitions">Interleaved plain/speculative pairs per workload and batch; figures are their medians.</param>
/// <param name="TinyPlainModel">Whether the ordinary workload runs bench peer's tiny model instead of the stories110M-shaped one.</param>
internal sealed record SpecDecodeSettings(int CopyNewTokens, int PlainPromptTokens, int PlainNewTokens, int PlainBatch1Prompts, int Repetitions, bool TinyPlainModel)
{
    /// <summary>Requests run at once in the batched runs, and the number of prompts of each workload.</summary>
    public const int BatchSize = 16;

    /// <summary>The measurement.</summary>
    public static SpecDecodeSettings Full { get; } = new(CopyNewTokens: 256, PlainPromptTokens: 32, PlainNewTokens: 64, PlainBatch1Prompts: 4, Repetitions: 3, TinyPlainModel: false);

    /// <summary>A smoke run of the same path in seconds.</summary>
    public static SpecDecodeSettings Quick { get; } = new(CopyNewTokens: 48, PlainPromptTokens: 16, PlainNewTokens: 16, PlainBatch1Prompts: 4, Repetitions: 1, TinyPlainModel: true);
}
