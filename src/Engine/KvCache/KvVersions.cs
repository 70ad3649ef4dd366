namespace Rollout.Engine.KvCache;

/// <summary>Weight versions as the KV cache tracks them per block.</summary>
internal static class KvVersions
{
    /// <summary>A block whose rows were computed under more than one weight version: never cached.</summary>
    public const long Mixed = -1;

    /// <summary>The version of a block holding rows of <paramref name="earlier"/> and rows of <paramref name="later"/>.</summary>
    public static long Combine(long earlier, long later) => earlier == later ? later : Mixed;
}
