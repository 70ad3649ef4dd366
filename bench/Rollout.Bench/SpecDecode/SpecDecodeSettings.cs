namespace Rollout.Bench.SpecDecode;

/// <summary>The sizes of <c>rollout bench specdecode</c>: the copy model's training budget, every workload's lengths and how often each pair of runs repeats.</summary>
/// <param name="CopyTrainSteps">Most optimizer steps the copy model trains for.</param>
/// <param name="CopyTrainSeconds">Most seconds the copy model trains for (it also stops once it copies its held-out sequences).</param>
/// <param name="CopyNewTokens">New tokens per copy-heavy request.</param>
/// <param name="StoriesNewTokens">New tokens per stories260K request.</param>
/// <param name="StoriesBatch1Prompts">stories260K prompts run one at a time (the first of them).</param>
/// <param name="PlainPromptTokens">Random prompt tokens per ordinary request.</param>
/// <param name="PlainNewTokens">New tokens per ordinary request.</param>
/// <param name="PlainBatch1Prompts">Ordinary prompts run one at a time (the first of them): that model is slow at batch 1.</param>
/// <param name="Repetitions">Interleaved plain/speculative pairs per workload and batch; figures are their medians.</param>
/// <param name="TinyPlainModel">Whether the ordinary workload runs bench peer's tiny model instead of the stories110M-shaped one.</param>
internal sealed record SpecDecodeSettings(int CopyTrainSteps, double CopyTrainSeconds, int CopyNewTokens, int StoriesNewTokens, int StoriesBatch1Prompts,
                                         int PlainPromptTokens, int PlainNewTokens, int PlainBatch1Prompts, int Repetitions, bool TinyPlainModel)
{
    /// <summary>Requests run at once in the batched runs, and the number of prompts of each workload.</summary>
    public const int BatchSize = 16;

    /// <summary>The measurement.</summary>
    public static SpecDecodeSettings Full { get; } = new(CopyTrainSteps: 3000, CopyTrainSeconds: 150, CopyNewTokens: 160, StoriesNewTokens: 128, StoriesBatch1Prompts: 8,
                                                         PlainPromptTokens: 32, PlainNewTokens: 64, PlainBatch1Prompts: 4, Repetitions: 3, TinyPlainModel: false);

    /// <summary>A smoke run of the same path in seconds (the copy model trains a few dozen steps: too few to copy).</summary>
    public static SpecDecodeSettings Quick { get; } = new(CopyTrainSteps: 30, CopyTrainSeconds: 20, CopyNewTokens: 48, StoriesNewTokens: 32, StoriesBatch1Prompts: 4,
                                                          PlainPromptTokens: 16, PlainNewTokens: 16, PlainBatch1Prompts: 4, Repetitions: 1, TinyPlainModel: true);
}
