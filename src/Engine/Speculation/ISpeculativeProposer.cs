using Rollout.Engine.Sequences;

namespace Rollout.Engine.Speculation;

/// <summary>
/// Guesses the next tokens of decoding sequences. A proposer is deterministic given a sequence's tokens (the
/// rejection sampler relies on it: a proposal is a point mass), and owns whatever state it keeps per sequence,
/// dropping it once the sequence no longer runs.
/// </summary>
internal interface ISpeculativeProposer : IDisposable
{
    /// <summary>
    /// Writes up to <c>maxTokens[i]</c> proposed continuations of <c>sequences[i]</c> (of all its tokens, prompt and
    /// output) into <c>proposals[i]</c>; an empty array where it has none.
    /// </summary>
    void Propose(IReadOnlyList<Sequence> sequences, int[] maxTokens, int[][] proposals);
}
