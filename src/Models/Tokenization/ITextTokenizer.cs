namespace Rollout.Models.Tokenization;

/// <summary>
/// Turns text into token ids and back. Implemented for Hugging Face <c>tokenizer.json</c> (byte-level
/// BPE) and for the SentencePiece-style vocabulary embedded in GGUF files.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids the tokenizer can produce (vocabulary plus added tokens).</summary>
    int VocabSize { get; }

    /// <summary>The beginning-of-sequence id, if the tokenizer has one.</summary>
    int? BosTokenId { get; }

    /// <summary>Ids that end generation (the tokenizer's EOS and, for chat models, end-of-turn tokens).</summary>
    IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The Jinja chat template from the tokenizer's configuration, if any.</summary>
    string? ChatTemplate { get; }

    /// <summary>
    /// Encodes <paramref name="text"/>. Special tokens written in the text (e.g. <c>&lt;|im_start|&gt;</c>)
    /// become their ids. <paramref name="addSpecialTokens"/> adds what the tokenizer's configuration
    /// says to add around a sequence (e.g. BOS for Llama 3; nothing for Qwen).
    /// </summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>Decodes ids to text; <paramref name="skipSpecialTokens"/> drops special tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false);

    /// <summary>The text of a special token, or null when <paramref name="id"/> is not special.</summary>
    string? SpecialTokenText(int id);
}
