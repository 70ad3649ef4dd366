namespace Rollout.Models.Architectures;

/// <summary>What sits on top of the decoder's hidden states.</summary>
public enum ModelHead
{
    /// <summary>Logits over the vocabulary at every requested row (<c>lm_head</c>).</summary>
    CausalLM,
    /// <summary>Scores at a sequence's last token (<c>score</c>), as reward and value models use.</summary>
    SequenceClassification,
}
