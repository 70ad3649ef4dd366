namespace Rollout.Models.Tokenization;

/// <summary>
/// A tokenizer file is missing a required part, is not valid JSON, or describes a component (model,
/// normalizer, pre-tokenizer, decoder, post-processor) this build does not implement.
/// </summary>
public sealed class TokenizerFormatException(string message, Exception? inner = null) : Exception(message, inner);
