using Rollout.Engine.Sampling;
using Rollout.Engine.Sequences;
using Rollout.Models.Tokenization;

namespace Rollout.Engine.Requests;

/// <summary>
/// What the engine keeps for one completion besides its <see cref="Sequence"/>: logprobs, sampling supports, the weight
/// version of each token, the streamed text (incremental detokenization, stop strings held back until
/// they can no longer match) and how it ended. Everything grows by appends, and a snapshot is a set of
/// views: a step costs what it added, not the completion's length.
/// </summary>
internal sealed class CompletionState
{
    readonly IncrementalDetokenizer? _detokenizer;
    readonly int _tokenizerVocab;
    readonly StopStringMatcher? _stopMatcher;
    readonly AppendOnlyList<char> _shown = new(64);
    readonly AppendOnlyList<float>? _logprobs;
    readonly AppendOnlyList<IReadOnlyList<TokenLogprob>>? _topLogprobs;
    readonly AppendOnlyList<long> _versions = new();
    readonly AppendOnlyList<int>? _supportSizes;
    readonly AppendOnlyList<int[]>? _supportIds;
    int _shownAtLastSnapshot;

    public CompletionState(RequestState request, int index, ITextTokenizer? tokenizer)
    {
        Request = request;
        var p = request.Params;
        // Prompt logprobs need every prompt position computed, so the completion that reports them
        // never takes its prompt from the prefix cache.
        Sequence = new Sequence(request.Id, index, request.PromptTokenIds, this) { ComputeFrom = index == 0 && request.WantsPromptLogprobs ? 0 : null };
        if (tokenizer is not null)
        {
            _detokenizer = new IncrementalDetokenizer(tokenizer, p.SkipSpecialTokens, request.PromptTokenIds.Where(t => t < tokenizer.VocabSize).ToArray());
            _tokenizerVocab = tokenizer.VocabSize;
            if (p.Stop.Count > 0) _stopMatcher = new StopStringMatcher(p.Stop, p.IncludeStopStringInOutput);
        }
        if (p.Logprobs is int k)
        {
            _logprobs = new();
            if (k > 0) _topLogprobs = new();
        }
        if (p.ReturnSupport != SamplingSupport.None) _supportSizes = new();
        if (p.ReturnSupport == SamplingSupport.Ids) _supportIds = new();
    }

    public RequestState Request { get; }
    public Sequence Sequence { get; }
    public FinishReason? FinishReason { get; private set; }
    public object? StopReason { get; private set; }

    /// <summary>
    /// Takes the token just appended to the sequence; returns why the completion ends now, or null.
    /// </summary>
    public FinishReason? Accept(ScoredToken token, long weightVersion, int maxModelLength, IReadOnlyCollection<int> eosTokenIds)
    {
        var p = Request.Params;
        _versions.Add(weightVersion);
        if (token.Logprob is float lp) _logprobs?.Add(lp);
        _topLogprobs?.Add(token.TopLogprobs);
        if (token.Support is { } support)
        {
            _supportSizes?.Add(support.Size);
            _supportIds?.Add(support.Ids!);
        }

        int id = token.TokenId;
        FinishReason? reason = null;
        string piece = "";
        if (p.StopTokenIds.Contains(id))
        {
            reason = Sequences.FinishReason.Stop;
            StopReason = id;
        }
        else if (!p.IgnoreEos && eosTokenIds.Contains(id))
        {
            reason = Sequences.FinishReason.Stop;
        }
        // Checkpoints pad their vocabulary past the tokenizer's ids (Qwen: 151,646 ids, 151,936 rows);
        // a padding row has no text.
        else if (_detokenizer is not null && id < _tokenizerVocab)
        {
            piece = _detokenizer.Add(id);
        }
        int generated = Sequence.OutputTokenIds.Count;
        if (reason is null && (generated >= (p.MaxTokens ?? int.MaxValue) || Sequence.NumTokens >= maxModelLength))
            reason = Sequences.FinishReason.Length;
        if (reason is not null && _detokenizer is not null) piece += _detokenizer.Flush();

        if (_stopMatcher is null)
        {
            _shown.AddRange(piece);
        }
        else
        {
            var match = _stopMatcher.Advance(piece, finished: reason is not null);
            _shown.AddRange(match.Text);
            if (match.Stopped)
            {
                reason = Sequences.FinishReason.Stop;
                StopReason = match.Stop;
            }
        }
        FinishReason = reason;
        return reason;
    }

    /// <summary>Ends the completion as aborted, keeping what it generated.</summary>
    public void MarkAborted() => FinishReason ??= Sequences.FinishReason.Abort;

    /// <summary>The completion as far as it has been generated: views of what it holds, plus the text new since the last snapshot.</summary>
    public CompletionOutput Snapshot()
    {
        var shown = _shown.Snapshot();
        string newText = new(shown.AsSpan()[_shownAtLastSnapshot..]);
        _shownAtLastSnapshot = shown.Count;
        return new CompletionOutput(shown)
        {
            Index = Sequence.Index,
            TokenIds = Sequence.OutputTokenIds.Snapshot(),
            NewText = newText,
            Logprobs = _logprobs?.Snapshot(),
            TopLogprobs = _topLogprobs?.Snapshot(),
            SupportSizes = _supportSizes?.Snapshot(),
            SupportIds = _supportIds?.Snapshot(),
            WeightVersions = _versions.Snapshot(),
            FinishReason = FinishReason switch
            {
                null => null,
                Sequences.FinishReason.Stop => "stop",
                Sequences.FinishReason.Length => "length",
                _ => "abort",
            },
            StopReason = StopReason,
        };
    }
}
