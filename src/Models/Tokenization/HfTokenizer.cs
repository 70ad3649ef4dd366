using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Rollout.Models.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer loaded from a Hugging Face model directory (<c>tokenizer.json</c> and
/// <c>tokenizer_config.json</c>), as used by GPT-2, Llama 3 and Qwen. Encoding follows the Hugging Face
/// pipeline step by step: added tokens are cut out of the text first, the rest is normalized, split by
/// the pre-tokenizer's regexes and merged by Microsoft.ML.Tokenizers' BPE. Decoding is lossless: no
/// clean-up of spaces around punctuation.
/// </summary>
public sealed class HfTokenizer : ITextTokenizer
{
    readonly BpeTokenizer _bpe;
    readonly Dictionary<string, int>? _wholeWords;
    readonly AddedTokenMatcher _addedTokens;
    readonly NormalizationForm? _normalization;
    readonly Regex[] _splits;
    readonly string?[] _tokenById;
    readonly AddedToken?[] _addedById;
    readonly int[] _prefix;
    readonly int[] _suffix;

    HfTokenizer(HfTokenizerDefinition definition)
    {
        _bpe = BpeTokenizer.Create(new BpeOptions(definition.Vocab)
        {
            Merges = definition.Merges,
            ByteLevel = true,
        });
        // ignore_merges (Llama 3): a pre-token already in the vocabulary is one token even when the
        // merges would not build it, which the ML.Tokenizers BPE has no option for.
        _wholeWords = definition.IgnoreMerges ? definition.Vocab : null;
        _addedTokens = new AddedTokenMatcher(definition.AddedTokens);
        _normalization = definition.Normalization;
        _splits = [.. definition.Splits];
        _prefix = [.. definition.Prefix];
        _suffix = [.. definition.Suffix];

        int size = Math.Max(
            definition.Vocab.Count == 0 ? 0 : definition.Vocab.Values.Max() + 1,
            definition.AddedTokens.Count == 0 ? 0 : definition.AddedTokens.Max(t => t.Id) + 1);
        _tokenById = new string?[size];
        foreach (var (token, id) in definition.Vocab) _tokenById[id] = token;
        _addedById = new AddedToken?[size];
        foreach (var token in definition.AddedTokens) _addedById[token.Id] = token;

        BosTokenId = definition.BosTokenId;
        EosTokenIds = definition.EosTokenId is { } eos ? [eos] : [];
        ChatTemplate = definition.ChatTemplate;
    }

    /// <summary>Loads the tokenizer of the Hugging Face model in <paramref name="modelDirectory"/>.</summary>
    /// <exception cref="FileNotFoundException">The directory has no <c>tokenizer.json</c>.</exception>
    /// <exception cref="TokenizerFormatException">
    /// A file is malformed or describes something other than byte-level BPE; the message names the file.
    /// </exception>
    public static HfTokenizer Load(string modelDirectory) => new(HfTokenizerDefinition.Load(modelDirectory));

    /// <inheritdoc />
    public int VocabSize => _tokenById.Length;

    /// <inheritdoc />
    public int? BosTokenId { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <inheritdoc />
    public string? ChatTemplate { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefix);
        int start = 0;
        while (_addedTokens.Next(text, start) is var (index, token))
        {
            EncodeOrdinary(text[start..index], ids);
            ids.Add(token.Id);
            start = index + token.Content.Length;
        }
        EncodeOrdinary(text[start..], ids);
        if (addSpecialTokens) ids.AddRange(_suffix);
        return ids;
    }

    void EncodeOrdinary(string segment, List<int> ids)
    {
        if (segment.Length == 0) return;
        // Normalizing only the text between added tokens is what Hugging Face does for tokens marked
        // "normalized": false, which every byte-level tokenizer we load uses.
        bool hasSurrogates = segment.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;
        // A lone surrogate cannot be normalized; its UTF-8 encoding would be U+FFFD's in any case.
        if (hasSurrogates) segment = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(segment));
        string text = _normalization is { } form ? segment.Normalize(form) : segment;
        var pieces = new List<(int Start, int Length)>();
        if (!hasSurrogates)
        {
            Split(text, 0, 0, pieces);
        }
        else
        {
            var (shadow, offsets) = CodePointShadow.Create(text);
            Split(shadow, 0, 0, pieces);
            for (int i = 0; i < pieces.Count; i++)
            {
                var (start, length) = pieces[i];
                pieces[i] = (offsets[start], offsets[start + length] - offsets[start]);
            }
        }
        foreach (var (start, length) in pieces)
        {
            var piece = text.AsSpan(start, length);
            if (_wholeWords is not null && _wholeWords.TryGetValue(ByteLevelAlphabet.Encode(piece.ToString()), out int id))
                ids.Add(id);
            else
                ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }
    }

    /// <summary>
    /// Applies split <paramref name="level"/> and the ones after it, each to the pieces of the one
    /// before, keeping unmatched stretches as pieces of their own (the "Isolated" behaviour).
    /// </summary>
    void Split(ReadOnlySpan<char> text, int offset, int level, List<(int Start, int Length)> pieces)
    {
        if (level == _splits.Length)
        {
            pieces.Add((offset, text.Length));
            return;
        }
        int at = 0;
        foreach (var match in _splits[level].EnumerateMatches(text))
        {
            if (match.Length == 0) continue;
            if (match.Index > at) Split(text[at..match.Index], offset + at, level + 1, pieces);
            Split(text.Slice(match.Index, match.Length), offset + match.Index, level + 1, pieces);
            at = match.Index + match.Length;
        }
        if (text.Length > at) Split(text[at..], offset + at, level + 1, pieces);
    }

    /// <inheritdoc />
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokenById.Length || (_addedById[id] is null && _tokenById[id] is null))
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary of {_tokenById.Length}");
            if (_addedById[id] is { } added)
            {
                if (skipSpecialTokens && added.Special) continue;
                // Added tokens are text, not byte spellings, and cut any partial character before them.
                FlushBytes();
                text.Append(added.Content);
            }
            else
            {
                ByteLevelAlphabet.AppendBytes(_tokenById[id]!, bytes);
            }
        }
        FlushBytes();
        return text.ToString();

        void FlushBytes()
        {
            text.Append(Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes)));
            bytes.Clear();
        }
    }

    /// <inheritdoc />
    public string? SpecialTokenText(int id) =>
        (uint)id < (uint)_addedById.Length && _addedById[id] is { Special: true } token ? token.Content : null;
}
