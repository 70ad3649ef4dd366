using Rollout.Engine.Requests;

namespace Rollout.Engine.Sequences;

/// <summary>
/// One sample being generated: its tokens, how many of them have KV in the cache, and the blocks that
/// hold that KV. A request with n samples owns n sequences that share its prompt.
/// </summary>
internal sealed class Sequence
{
    public Sequence(string requestId, int index, int[] promptTokenIds, CompletionState? completion = null)
    {
        if (promptTokenIds.Length == 0)
            throw new ArgumentException("a sequence needs at least one prompt token", nameof(promptTokenIds));
        RequestId = requestId;
        Index = index;
        PromptTokenIds = promptTokenIds;
        Completion = completion;
        AllTokens = new TokenView(this);
    }

    public string RequestId { get; }

    /// <summary>Which of its request's n samples this is.</summary>
    public int Index { get; }

    public int[] PromptTokenIds { get; }

    public AppendOnlyList<int> OutputTokenIds { get; } = new();

    /// <summary>Prompt followed by output, without copying either.</summary>
    public IReadOnlyList<int> AllTokens { get; }

    public int NumTokens => PromptTokenIds.Length + OutputTokenIds.Count;

    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;

    /// <summary>Null until the sequence is finished.</summary>
    public FinishReason? FinishReason { get; set; }

    /// <summary>Leading tokens whose KV is in the cache (computed, or found there by prefix caching).</summary>
    public int NumComputedTokens { get; set; }

    /// <summary>Prompt tokens served by the prefix cache at first admission (for usage reporting).</summary>
    public int NumCachedPromptTokens { get; set; }

    /// <summary>How often the scheduler took its blocks away; it recomputes its tokens each time.</summary>
    public int NumPreemptions { get; set; }

    /// <summary>Ids of the KV blocks holding tokens [i * blockSize, (i + 1) * blockSize) at index i.</summary>
    public List<int> BlockTable { get; } = [];

    /// <summary>Set by the scheduler when the sequence is added; older sequences have smaller values.</summary>
    public long ArrivalOrder { get; set; }

    /// <summary>
    /// The completion this sequence generates (its request, logprobs, text); null for sequences the
    /// scheduler and KV cache are tested with alone.
    /// </summary>
    public CompletionState? Completion { get; }

    /// <summary>
    /// The weight version that computed the KV rows of the sequence's last, partly filled block, or
    /// <see cref="KvCache.KvVersions.Mixed"/> when they came from several: a block is cached under the
    /// version of all its rows, and never when they span versions. Meaningless while
    /// <see cref="NumComputedTokens"/> ends on a block boundary.
    /// </summary>
    public long OpenBlockVersion { get; set; }

    /// <summary>
    /// The first position whose hidden state a head reads (0 for prompt logprobs, the last prompt token for
    /// scoring): its KV and everything after it are computed, never taken from the prefix cache. Null: only
    /// the last token's, as for any sequence that samples.
    /// </summary>
    public int? ComputeFrom { get; init; }

    /// <summary>
    /// The scoring or reward request this sequence computes, when it only prefills: it samples nothing and
    /// ends once its last token is computed. Null for a sequence that generates.
    /// </summary>
    public PrefillRequest? Prefill { get; init; }

    public bool PrefillOnly => Prefill is not null;

    /// <summary>
    /// Tokens a proposer guessed to follow the sequence's last token, fed after it this step to be verified. Not
    /// part of the sequence: the step keeps those the model agrees with and drops the others with their KV.
    /// Empty outside a speculative step.
    /// </summary>
    public int[] SpeculativeTokenIds { get; set; } = [];

    public bool IsFinished => Status == SequenceStatus.Finished;

    /// <summary>Copies tokens [start, start + destination.Length) of prompt + output into destination.</summary>
    public void CopyTokens(int start, Span<int> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + destination.Length, NumTokens, nameof(destination));
        int prompt = PromptTokenIds.Length;
        int fromPrompt = Math.Clamp(prompt - start, 0, destination.Length);
        PromptTokenIds.AsSpan(Math.Min(start, prompt), fromPrompt).CopyTo(destination);
        int outputStart = Math.Max(0, start - prompt);
        for (int i = fromPrompt; i < destination.Length; i++)
            destination[i] = OutputTokenIds[outputStart + i - fromPrompt];
    }

    public override string ToString() => $"{RequestId}#{Index} ({Status}, {NumComputedTokens}/{NumTokens} computed)";

    sealed class TokenView(Sequence sequence) : IReadOnlyList<int>
    {
        public int Count => sequence.NumTokens;

        public int this[int index]
        {
            get
            {
                int prompt = sequence.PromptTokenIds.Length;
                return index < prompt ? sequence.PromptTokenIds[index] : sequence.OutputTokenIds[index - prompt];
            }
        }

        public IEnumerator<int> GetEnumerator()
        {
            foreach (int token in sequence.PromptTokenIds) yield return token;
            foreach (int token in sequence.OutputTokenIds) yield return token;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
