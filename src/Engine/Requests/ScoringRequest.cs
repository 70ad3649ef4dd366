using Rollout.Engine.Sampling;
using TorchSharp;

namespace Rollout.Engine.Requests;

/// <summary>
/// Scores a completion: the logprob of each of its tokens given everything before it. Its sequence is the
/// prompt and the completion without its last token (no logprob reads the hidden state after it); the head
/// reads every position from the prompt's last token on, position p predicting completion token p + 1 - P.
/// </summary>
internal sealed class ScoringRequest : PrefillRequest<ScoreResult>
{
    readonly CompletionScorer _scorer;
    readonly int _firstRow;
    readonly float[] _logprobs;

    /// <param name="id">A name for logs.</param>
    /// <param name="promptTokenIds">At least one token.</param>
    /// <param name="completionTokenIds">At least one token.</param>
    /// <param name="scorer">Turns hidden states into the completion's logprobs.</param>
    public ScoringRequest(string id, int[] promptTokenIds, int[] completionTokenIds, CompletionScorer scorer)
        : base(id, [.. promptTokenIds, .. completionTokenIds.AsSpan(0, completionTokenIds.Length - 1)], computeFrom: promptTokenIds.Length - 1)
    {
        _scorer = scorer;
        _firstRow = promptTokenIds.Length - 1;
        _logprobs = new float[completionTokenIds.Length];
    }

    public override int RowsIn(int start, int count) => Math.Max(0, start + count - Math.Max(start, _firstRow));

    // A recomputed row (after preemption or a weight change) overwrites what an earlier pass wrote.
    public override void Read(torch.Tensor hidden, int firstPosition) => _scorer.Score(hidden, firstPosition - _firstRow, _logprobs);

    protected override ScoreResult Result(long weightVersion) => new(_logprobs, weightVersion);
}
