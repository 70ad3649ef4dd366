using Rollout.Engine.Sampling;
using Rollout.Engine.Sequences;
using Rollout.Models.Tokenization;

namespace Rollout.Engine.Requests;

/// <summary>One request inside the engine: its prompt, parameters, completions and prompt logprobs.</summary>
internal sealed class RequestState
{
    readonly AppendOnlyList<TokenLogprob>? _promptLogprobs;
    readonly AppendOnlyList<IReadOnlyList<TokenLogprob>>? _promptTopLogprobs;

    public RequestState(string id, int[] promptTokenIds, SamplingParams sampling, ITextTokenizer? tokenizer, long arrivalTimestamp)
    {
        Id = id;
        PromptTokenIds = promptTokenIds;
        Params = sampling;
        ArrivalTimestamp = arrivalTimestamp;
        if (sampling.PromptLogprobs is int k)
        {
            _promptLogprobs = new();
            if (k > 0) _promptTopLogprobs = new();
        }
        Completions = Enumerable.Range(0, sampling.N).Select(i => new CompletionState(this, i, tokenizer)).ToArray();
    }

    public string Id { get; }
    public int[] PromptTokenIds { get; }
    public SamplingParams Params { get; }
    public CompletionState[] Completions { get; }
    public long ArrivalTimestamp { get; }
    public long? FirstTokenTimestamp { get; set; }
    public bool Finished => Completions.All(c => c.FinishReason is not null);

    public bool WantsPromptLogprobs => _promptLogprobs is not null;

    /// <summary>Prompt positions (each predicting the next prompt token) that still lack a logprob.</summary>
    public int PromptLogprobsRecorded => _promptLogprobs?.Count ?? 0;

    public void RecordPromptLogprobs(IReadOnlyList<ScoredToken> scored)
    {
        foreach (var s in scored)
        {
            _promptLogprobs!.Add(new TokenLogprob(s.TokenId, s.Logprob ?? float.NaN));
            _promptTopLogprobs?.Add(s.TopLogprobs);
        }
    }

    public RequestOutput Snapshot() => new()
    {
        RequestId = Id,
        PromptTokenIds = PromptTokenIds,
        PromptLogprobs = _promptLogprobs?.Snapshot(),
        PromptTopLogprobs = _promptTopLogprobs?.Snapshot(),
        Outputs = Completions.Select(c => c.Snapshot()).ToArray(),
        CachedPromptTokens = Completions.Sum(c => c.Sequence.NumCachedPromptTokens),
    };
}
