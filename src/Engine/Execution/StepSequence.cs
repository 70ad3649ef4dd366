namespace Rollout.Engine.Execution;

/// <summary>
/// One sequence's share of a model step, as the runner needs it: a stable id, the tokens fed this step (they
/// continue the <paramref name="StartPosition"/> tokens already cached), the slots of every cached
/// and new token, and how many logit rows it wants (the last <paramref name="LogitRows"/> fed tokens;
/// 1 for a decode or the end of a prompt, more for prompt logprobs or speculative verification).
/// </summary>
internal sealed record StepSequence(long SequenceId, IReadOnlyList<int> TokenIds, int StartPosition, IReadOnlyList<int> BlockTable, int LogitRows)
{
    public int ContextLength => StartPosition + TokenIds.Count;
}
