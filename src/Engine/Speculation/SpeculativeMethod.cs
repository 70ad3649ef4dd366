namespace Rollout.Engine;

/// <summary>Where speculative decoding gets the tokens the model verifies.</summary>
public enum SpeculativeMethod
{
    /// <summary>Prompt lookup: the tokens that followed the latest earlier occurrence of the sequence's last n tokens.</summary>
    NGram,

    /// <summary>A small draft model with the same vocabulary, run greedily over its own paged KV cache.</summary>
    DraftModel,
}
