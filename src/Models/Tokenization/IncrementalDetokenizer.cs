namespace Rollout.Models.Tokenization;

/// <summary>
/// Turns a stream of generated token ids into a stream of text, one token at a time, for any
/// <see cref="ITextTokenizer"/>. Like Hugging Face TGI it decodes a short window of ids twice (up to the
/// last emitted token, and up to the new one) and returns the difference, so tokenizers whose decoding
/// depends on neighbours (SentencePiece's leading space) come out right. Text is held back while it ends
/// in U+FFFD, since that usually means a character whose UTF-8 bytes span several tokens. The increments
/// plus <see cref="Flush"/> concatenate to the tokenizer's decoding of all the ids.
/// </summary>
public sealed class IncrementalDetokenizer
{
    // Ids before the window are dropped once this many pile up, so memory stays bounded in long generations.
    const int TrimThreshold = 64;
    const int ContextTokens = 6;

    readonly ITextTokenizer _tokenizer;
    readonly bool _skipSpecialTokens;
    readonly List<int> _ids = [];
    int _prefixOffset;
    int _readOffset;

    /// <summary>Starts a stream.</summary>
    /// <param name="tokenizer">Decodes the ids.</param>
    /// <param name="skipSpecialTokens">Leave special tokens out of the text.</param>
    /// <param name="context">
    /// Ids that precede the stream (the prompt's tail); they are not emitted, but let the first generated
    /// token decode as it would mid-text.
    /// </param>
    public IncrementalDetokenizer(ITextTokenizer tokenizer, bool skipSpecialTokens = true, IReadOnlyList<int>? context = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        if (context is { Count: > 0 })
        {
            _ids.AddRange(context.Skip(Math.Max(0, context.Count - ContextTokens)));
            _readOffset = _ids.Count;
        }
    }

    /// <summary>Adds the next token and returns the text it completes (often empty).</summary>
    public string Add(int tokenId)
    {
        _ids.Add(tokenId);
        string prefix = DecodeWindow(_readOffset);
        string text = DecodeWindow(_ids.Count);
        if (text.Length <= prefix.Length || text.EndsWith('\uFFFD')) return "";
        Advance();
        return text[prefix.Length..];
    }

    /// <summary>Returns the text still held back (an incomplete character decodes as U+FFFD) and ends the window there.</summary>
    public string Flush()
    {
        string prefix = DecodeWindow(_readOffset);
        string text = DecodeWindow(_ids.Count);
        Advance();
        return text.Length > prefix.Length ? text[prefix.Length..] : "";
    }

    string DecodeWindow(int end) => _tokenizer.Decode(_ids[_prefixOffset..end], _skipSpecialTokens);

    void Advance()
    {
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        if (_prefixOffset < TrimThreshold) return;
        _ids.RemoveRange(0, _prefixOffset);
        _readOffset -= _prefixOffset;
        _prefixOffset = 0;
    }
}
