namespace Rollout.Models.Tokenization;

/// <summary>The kind of a SentencePiece vocabulary entry, numbered as in GGUF's <c>tokenizer.ggml.token_type</c>.</summary>
public enum SentencePieceTokenType
{
    /// <summary>An ordinary piece of text; <c>▁</c> stands for a space.</summary>
    Normal = 1,
    /// <summary>The unknown token, <c>&lt;unk&gt;</c>.</summary>
    Unknown = 2,
    /// <summary>A control token such as <c>&lt;s&gt;</c> or <c>&lt;/s&gt;</c>; no text of its own.</summary>
    Control = 3,
    /// <summary>A piece added by the user, matched whole in the input.</summary>
    UserDefined = 4,
    /// <summary>A reserved, unused entry.</summary>
    Unused = 5,
    /// <summary>One raw byte, written <c>&lt;0xNN&gt;</c>: the fallback for text the pieces do not cover.</summary>
    Byte = 6,
}

/// <summary>
/// A SentencePiece vocabulary as llama.cpp stores it in GGUF: pieces with scores and types, the
/// special ids, and whether encoding adds BOS, EOS and a leading space.
/// </summary>
public sealed record SentencePieceVocabulary
{
    /// <summary>The pieces, by id.</summary>
    public required IReadOnlyList<string> Tokens { get; init; }
    /// <summary>Merge priority of each piece: higher merges first.</summary>
    public required IReadOnlyList<float> Scores { get; init; }
    /// <summary>The type of each piece.</summary>
    public required IReadOnlyList<SentencePieceTokenType> Types { get; init; }
    /// <summary>Beginning-of-sequence id.</summary>
    public int BosTokenId { get; init; } = 1;
    /// <summary>End-of-sequence id.</summary>
    public int EosTokenId { get; init; } = 2;
    /// <summary>Unknown-token id, used for bytes that have no byte token.</summary>
    public int UnknownTokenId { get; init; }
    /// <summary>Whether encoding with special tokens starts with BOS.</summary>
    public bool AddBos { get; init; } = true;
    /// <summary>Whether encoding with special tokens ends with EOS.</summary>
    public bool AddEos { get; init; }
    /// <summary>Whether text gets a leading space before encoding (SentencePiece's dummy prefix), removed again on decoding.</summary>
    public bool AddSpacePrefix { get; init; } = true;
    /// <summary>The chat template, if any.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>
    /// The layout of llama2.c and Llama 2 vocabularies: <c>&lt;unk&gt;</c> (0), <c>&lt;s&gt;</c> (1),
    /// <c>&lt;/s&gt;</c> (2), the 256 byte tokens <c>&lt;0x00&gt;</c> to <c>&lt;0xFF&gt;</c> (3 to 258), then
    /// <paramref name="pieces"/> as normal tokens.
    /// </summary>
    public static SentencePieceVocabulary WithByteFallback(IEnumerable<(string Piece, float Score)> pieces)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var scores = new List<float> { 0, 0, 0 };
        var types = new List<SentencePieceTokenType> { SentencePieceTokenType.Unknown, SentencePieceTokenType.Control, SentencePieceTokenType.Control };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            scores.Add(0);
            types.Add(SentencePieceTokenType.Byte);
        }
        foreach (var (piece, score) in pieces)
        {
            tokens.Add(piece);
            scores.Add(score);
            types.Add(SentencePieceTokenType.Normal);
        }
        return new SentencePieceVocabulary { Tokens = tokens, Scores = scores, Types = types };
    }
}
