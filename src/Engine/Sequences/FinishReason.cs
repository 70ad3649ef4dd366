namespace Rollout.Engine.Sequences;

/// <summary>Why a sequence stopped generating.</summary>
internal enum FinishReason
{
    /// <summary>A stop token or stop string was produced.</summary>
    Stop,
    /// <summary>The token limit (max tokens or the model's context) was reached.</summary>
    Length,
    /// <summary>The request was cancelled before it finished.</summary>
    Abort,
    /// <summary>A prefill-only sequence (scoring, a reward) had its last token computed: it never generates.</summary>
    Prefilled,
}
