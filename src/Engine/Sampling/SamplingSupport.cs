namespace Rollout.Engine.Sampling;

/// <summary>
/// What a completion reports, per generated token, of its sampling support: the tokens the draw could have
/// chosen, those left with a finite logit after logit bias, min-tokens masking, penalties, temperature and
/// top-k/top-p/min-p. A trainer renormalises over it. A greedy draw (temperature 0) has one token in its
/// support, the one chosen.
/// </summary>
public enum SamplingSupport
{
    /// <summary>Nothing: the sampler does no work for it.</summary>
    None,

    /// <summary>How many tokens each draw's support holds (<see cref="CompletionOutput.SupportSizes"/>).</summary>
    Size,

    /// <summary>The ids of each draw's support, ascending (<see cref="CompletionOutput.SupportIds"/>), and their count as with <see cref="Size"/>.</summary>
    Ids,
}
