namespace Rollout.Engine.Sampling;

/// <summary>Which distribution the returned logprobs describe.</summary>
public enum LogprobsMode
{
    /// <summary>The model's own distribution, <c>log_softmax(logits)</c>, before any sampling parameter touches it.</summary>
    Raw,

    /// <summary>
    /// The distribution the token was actually drawn from: after logit bias, min-tokens masking, penalties,
    /// temperature and top-k/top-p/min-p filtering. Tokens the filters removed have logprob -infinity.
    /// </summary>
    Processed,
}
