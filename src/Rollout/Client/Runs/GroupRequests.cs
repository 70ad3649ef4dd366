using Rollout.Engine.Sampling;

namespace Rollout.Client.Runs;

/// <summary>
/// The engine requests a group is made of, alike in process and over HTTP. A group starts as one request
/// with <c>N = n</c> and the caller's seed, exactly what <c>/rl/generate</c> hands the engine for a prompt
/// with <c>n</c>: the engine derives completion i's draws from (seed, i, position), so a local and a remote
/// client give the same tokens. A completion that is continued (resumed after an early end, or
/// regenerated because it was stale) goes on as a request of its own, from its tokens so far.
/// </summary>
internal static class GroupRequests
{
    /// <summary>The request that starts a group: <paramref name="n"/> completions, with logprobs (a trajectory always carries them).</summary>
    public static SamplingParams First(SamplingParams sampling, int n) =>
        sampling with { N = n, Logprobs = sampling.Logprobs ?? 0, PromptLogprobs = null };

    /// <summary>
    /// The request that continues <paramref name="partial"/>: its prompt and tokens so far are the new prompt, and
    /// what is left of <c>max_tokens</c> and <c>min_tokens</c> is asked for. Its seed is derived from (seed,
    /// index, tokens so far), so that continuations of one group draw apart from each other and reproducibly.
    /// </summary>
    public static (IReadOnlyList<int> Prompt, SamplingParams Sampling) Continue(SamplingParams sampling, Trajectory partial)
    {
        int generated = partial.CompletionTokenIds.Count;
        var continued = First(sampling, 1) with
        {
            MaxTokens = sampling.MaxTokens - generated,
            MinTokens = Math.Max(0, sampling.MinTokens - generated),
            Seed = sampling.Seed is long seed ? DerivedSeed(seed, partial.Index, generated) : null,
        };
        return ([.. partial.PromptTokenIds, .. partial.CompletionTokenIds], continued);
    }

    /// <summary>Whether a completion ended before it was done (ended early, or by a weight update's abort), so it can be continued.</summary>
    public static bool IsUnfinished(Trajectory trajectory) => trajectory.FinishReason == "abort";

    /// <summary>Whether <paramref name="partial"/> has no room left to continue: it used all of <c>max_tokens</c>.</summary>
    public static bool IsOutOfRoom(SamplingParams sampling, Trajectory partial) => sampling.MaxTokens <= partial.CompletionTokenIds.Count;

    // The engine's keyed mixer, read back as 52 bits: nearby keys give unrelated seeds.
    static long DerivedSeed(long seed, int index, int generated) => (long)(CounterRandom.Uniform(seed, index, generated) * (1L << 52));
}
