namespace Rollout.Engine.Sampling;

/// <summary>
/// Uniform numbers computed from a key rather than drawn from a stateful generator, so that a draw depends
/// only on (seed, stream, counter): not on how many other draws happened before it or beside it in a batch.
/// </summary>
internal static class CounterRandom
{
    /// <summary>A uniform double in [0, 1 - 2^-52] for the given key.</summary>
    /// <remarks>
    /// 52 bits rather than 53 keep <c>u * total</c> strictly below <c>total</c> for any total in [0.5, 2),
    /// which is what lets the inverse-CDF draw never run past the last token.
    /// </remarks>
    public static double Uniform(long seed, long stream, long counter)
    {
        ulong h = SplitMix64(unchecked((ulong)seed));
        h = SplitMix64(h ^ unchecked((ulong)stream));
        h = SplitMix64(h ^ unchecked((ulong)counter));
        return (h >> 12) * (1.0 / (1UL << 52));
    }

    // SplitMix64's output function: a bijection with full avalanche, so nearby keys give unrelated values.
    static ulong SplitMix64(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
