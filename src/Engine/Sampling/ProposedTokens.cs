namespace Rollout.Engine.Sampling;

/// <summary>A sequence's output followed by the first <c>count</c> tokens of a proposal, without copying either.</summary>
internal sealed class ProposedTokens(IReadOnlyList<int> output, int[] proposal, int count) : IReadOnlyList<int>
{
    public int Count => output.Count + count;

    public int this[int index] => index < output.Count ? output[index]
        : (uint)(index - output.Count) < (uint)count ? proposal[index - output.Count] : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<int> GetEnumerator()
    {
        foreach (int token in output) yield return token;
        for (int i = 0; i < count; i++) yield return proposal[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
