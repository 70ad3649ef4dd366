using Rollout.Models;

namespace Rollout.Engine;

/// <summary>
/// Speculative decoding for an <see cref="LlmEngine"/>: a proposer guesses up to <see cref="NumSpeculativeTokens"/>
/// tokens per decoding sequence, the model scores them and one more position in a single pass, and a rejection
/// sampler keeps what the model's own distribution would have drawn. What is sampled does not change, only how
/// many steps it takes. The engine turns speculation off by itself, per batch size, while it is slower than plain
/// decoding (low acceptance, or a batch large enough that the extra rows cost more than they save).
/// </summary>
public sealed record SpeculativeOptions
{
    /// <summary>The most tokens a verify row set holds besides the sequence's own next token (see <see cref="NumSpeculativeTokens"/>).</summary>
    public const int MaxSpeculativeTokens = 15;

    /// <summary>Where proposals come from.</summary>
    public SpeculativeMethod Method { get; init; } = SpeculativeMethod.NGram;

    /// <summary>k: the most tokens proposed per sequence and step, in [1, <see cref="MaxSpeculativeTokens"/>].</summary>
    public int NumSpeculativeTokens { get; init; } = 4;

    /// <summary>Shortest suffix n-gram prompt lookup matches (<see cref="SpeculativeMethod.NGram"/>).</summary>
    public int NGramMin { get; init; } = 2;

    /// <summary>Longest suffix n-gram prompt lookup tries first (<see cref="SpeculativeMethod.NGram"/>).</summary>
    public int NGramMax { get; init; } = 4;

    /// <summary>The draft model (<see cref="SpeculativeMethod.DraftModel"/>): a causal LM over the same vocabulary.</summary>
    public CausalLanguageModel? DraftModel { get; init; }

    /// <summary>Bytes of the draft model's own KV cache; when null, a share of the target's that holds as many tokens.</summary>
    public long? DraftKvCacheBytes { get; init; }

    /// <summary>Batches of more decoding sequences than this never speculate (decode is compute-bound there).</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>
    /// Whether the engine measures speculative and plain decode steps per batch size and speculates only where
    /// that is faster. Off, it speculates whenever a proposal exists and the batch is small enough.
    /// </summary>
    public bool Adaptive { get; init; } = true;

    internal void Validate(int targetVocabSize)
    {
        if (!Enum.IsDefined(Method)) throw new ArgumentOutOfRangeException(nameof(Method), Method, "the speculative method must be ngram or draft");
        if (NumSpeculativeTokens is < 1 or > MaxSpeculativeTokens)
            throw new ArgumentOutOfRangeException(nameof(NumSpeculativeTokens), NumSpeculativeTokens, $"speculative tokens must be in [1, {MaxSpeculativeTokens}]");
        if (MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "the speculative batch limit must be >= 1");
        if (Method == SpeculativeMethod.NGram)
        {
            if (NGramMin < 1) throw new ArgumentOutOfRangeException(nameof(NGramMin), NGramMin, "the shortest n-gram must be >= 1");
            if (NGramMax < NGramMin) throw new ArgumentOutOfRangeException(nameof(NGramMax), NGramMax, $"the longest n-gram must be >= the shortest ({NGramMin})");
            if (DraftModel is not null) throw new ArgumentException("a draft model is given but the method is ngram: choose the draft method to use it", nameof(DraftModel));
        }
        else
        {
            if (DraftModel is null) throw new ArgumentException("the draft method needs a draft model", nameof(DraftModel));
            if (DraftModel.Config.VocabSize != targetVocabSize)
                throw new ArgumentException($"the draft model's vocabulary ({DraftModel.Config.VocabSize}) differs from the target's ({targetVocabSize}): they must share a tokenizer", nameof(DraftModel));
            if (DraftKvCacheBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(DraftKvCacheBytes), DraftKvCacheBytes, "draft KV cache bytes must be positive");
        }
    }
}
