using Rollout.Models.Testing;

namespace Rollout.Bench.Throughput;

/// <summary>The shape of the GRPO-like throughput workload and of the model it runs on.</summary>
internal sealed record ThroughputWorkload(
    int Prompts, int SamplesPerPrompt, int PromptTokens, int NewTokens, int NaiveSequences, TinyModelOptions Model, TimeSpan MatmulBudget)
{
    /// <summary>32 prompts x 8 samples, 256-token prompts, 128 new tokens, on a Qwen3-style model of about 25M parameters.</summary>
    public static ThroughputWorkload Full { get; } = new(32, 8, 256, 128, 6,
        new TinyModelOptions { VocabSize = 6144, HiddenSize = 512, IntermediateSize = 1536, Layers = 6, Heads = 8, KeyValueHeads = 4, HeadDim = 64, MaxPositionEmbeddings = 1024, Seed = 7 },
        TimeSpan.FromSeconds(1));

    /// <summary>A smoke run of the same path in seconds.</summary>
    public static ThroughputWorkload Quick { get; } = new(4, 4, 64, 16, 2,
        new TinyModelOptions { VocabSize = 1024, HiddenSize = 128, IntermediateSize = 256, Layers = 2, Heads = 4, KeyValueHeads = 2, HeadDim = 32, MaxPositionEmbeddings = 256, Seed = 7 },
        TimeSpan.FromMilliseconds(100));

    public int Sequences => Prompts * SamplesPerPrompt;
}
