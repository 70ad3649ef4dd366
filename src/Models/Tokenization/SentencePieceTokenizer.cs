using System.Text;
using Rollout.Models.Checkpoints;
using Rollout.Models.Checkpoints.Gguf;

namespace Rollout.Models.Tokenization;

/// <summary>
/// The SentencePiece tokenizer of llama.cpp's "llama" vocabularies (Llama 1 and 2, llama2.c models):
/// text gets a leading space, spaces become <c>▁</c>, and adjacent pieces merge, highest score first,
/// while the merged text is in the vocabulary; what no piece covers falls back to byte tokens.
/// </summary>
/// <remarks>
/// Encoding follows llama.cpp's <c>llm_tokenizer_spm</c> step for step, including how special-token
/// text in the input is split out first and how ties between equal scores go to the leftmost pair,
/// so ids match llama.cpp's for the same file.
/// </remarks>
public sealed class SentencePieceTokenizer : ITextTokenizer
{
    const char SpaceSymbol = '\u2581';

    readonly Dictionary<string, int> ids = new(StringComparer.Ordinal);
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> idsBySpan;
    readonly int[] byteTokens = new int[256];
    readonly int[] byteOfToken;
    readonly (string Text, int Id)[] specials;

    /// <summary>A tokenizer over <paramref name="vocabulary"/>.</summary>
    /// <exception cref="ArgumentException">The lists differ in length or a special id is outside the vocabulary.</exception>
    public SentencePieceTokenizer(SentencePieceVocabulary vocabulary)
    {
        var v = vocabulary;
        int count = v.Tokens.Count;
        if (count == 0 || v.Scores.Count != count || v.Types.Count != count)
            throw new ArgumentException($"vocabulary lists differ or are empty: {count} tokens, {v.Scores.Count} scores, {v.Types.Count} types", nameof(vocabulary));
        foreach (var (what, id) in new[] { ("BOS", v.BosTokenId), ("EOS", v.EosTokenId), ("unknown", v.UnknownTokenId) })
            if ((uint)id >= (uint)count) throw new ArgumentException($"{what} id {id} is outside the vocabulary of {count}", nameof(vocabulary));
        Vocabulary = v;

        // Later duplicates win, as in llama.cpp's token_to_id map.
        for (int id = 0; id < count; id++) ids[v.Tokens[id]] = id;
        idsBySpan = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int b = 0; b < 256; b++) byteTokens[b] = ids.GetValueOrDefault($"<0x{b:X2}>", v.UnknownTokenId);
        byteOfToken = new int[count];
        for (int id = 0; id < count; id++)
        {
            string t = v.Tokens[id];
            byteOfToken[id] = v.Types[id] == SentencePieceTokenType.Byte && t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
                && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte value) ? value : -1;
        }

        // llama.cpp splits the input at the text of control, user-defined and unknown tokens, longest first.
        specials = Enumerable.Range(0, count)
            .Where(id => v.Types[id] is SentencePieceTokenType.Control or SentencePieceTokenType.UserDefined or SentencePieceTokenType.Unknown
                && v.Tokens[id].Length > 0)
            .Select(id => (v.Tokens[id], id))
            .OrderByDescending(s => s.Item1.Length).ThenBy(s => s.id)
            .ToArray();
    }

    /// <summary>The vocabulary this tokenizer uses.</summary>
    public SentencePieceVocabulary Vocabulary { get; }

    /// <inheritdoc />
    public int VocabSize => Vocabulary.Tokens.Count;

    /// <inheritdoc />
    public int? BosTokenId => Vocabulary.BosTokenId;

    /// <inheritdoc />
    public IReadOnlyList<int> EosTokenIds => [Vocabulary.EosTokenId];

    /// <inheritdoc />
    public string? ChatTemplate => Vocabulary.ChatTemplate;

    /// <summary>The tokenizer stored in a GGUF file whose <c>tokenizer.ggml.model</c> is <c>llama</c>.</summary>
    /// <exception cref="CheckpointFormatException">The file has no tokenizer, another kind of tokenizer, or an inconsistent one.</exception>
    public static SentencePieceTokenizer FromGguf(GgufFile file)
    {
        string? model = file.GetString("tokenizer.ggml.model");
        if (model != "llama")
            throw new CheckpointFormatException($"{file.Path}: tokenizer.ggml.model is {(model is null ? "absent" : $"'{model}'")}; only SentencePiece ('llama') vocabularies are supported");
        string[] tokens = file.GetStringArray("tokenizer.ggml.tokens")
            ?? throw new CheckpointFormatException($"{file.Path}: GGUF metadata lacks tokenizer.ggml.tokens");
        // llama.cpp's defaults for SentencePiece vocabularies when keys are absent.
        var vocabulary = new SentencePieceVocabulary
        {
            Tokens = tokens,
            Scores = file.GetFloatArray("tokenizer.ggml.scores") ?? new float[tokens.Length],
            Types = file.GetIntegerArray("tokenizer.ggml.token_type")?.Select(t => (SentencePieceTokenType)t).ToArray()
                ?? Enumerable.Repeat(SentencePieceTokenType.Normal, tokens.Length).ToArray(),
            BosTokenId = Id(file, "tokenizer.ggml.bos_token_id") ?? 1,
            EosTokenId = Id(file, "tokenizer.ggml.eos_token_id") ?? 2,
            UnknownTokenId = Id(file, "tokenizer.ggml.unknown_token_id") ?? 0,
            AddBos = file.GetBool("tokenizer.ggml.add_bos_token") ?? true,
            AddEos = file.GetBool("tokenizer.ggml.add_eos_token") ?? false,
            AddSpacePrefix = file.GetBool("tokenizer.ggml.add_space_prefix") ?? true,
            ChatTemplate = file.GetString("tokenizer.chat_template"),
        };
        try
        {
            return new SentencePieceTokenizer(vocabulary);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException($"{file.Path}: {e.Message}", e);
        }
    }

    static int? Id(GgufFile file, string key) => file.GetInteger(key) switch
    {
        null => null,
        >= 0 and <= int.MaxValue and var v => (int)v,
        var v => throw new CheckpointFormatException($"{file.Path}: {key} = {v} is not a token id"),
    };

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var output = new List<int>();
        if (addSpecialTokens && Vocabulary.AddBos) output.Add(Vocabulary.BosTokenId);
        bool afterSpecial = true;
        foreach (var (fragment, specialId) in SplitSpecials(text))
        {
            if (specialId >= 0)
            {
                output.Add(specialId);
                afterSpecial = true;
                continue;
            }
            // llama.cpp adds the dummy prefix at the start and after every special token.
            string prefixed = Vocabulary.AddSpacePrefix && afterSpecial ? " " + fragment : fragment;
            EncodePieces(prefixed.Replace(' ', SpaceSymbol), output);
            afterSpecial = false;
        }
        if (addSpecialTokens && Vocabulary.AddEos) output.Add(Vocabulary.EosTokenId);
        return output;
    }

    /// <inheritdoc />
    /// <remarks>
    /// As SentencePiece does, the space that encoding prefixed is dropped from the first piece of text,
    /// also when it follows a skipped BOS; a rendered <c>&lt;s&gt;</c> keeps it (<c>"&lt;s&gt; Once"</c>).
    /// </remarks>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>();
        bool atStart = true;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), id, $"id outside the vocabulary of {VocabSize}");
            string token = Vocabulary.Tokens[id];
            switch (Vocabulary.Types[id])
            {
                case SentencePieceTokenType.Control or SentencePieceTokenType.Unknown:
                    if (skipSpecialTokens) continue;
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    break;
                case SentencePieceTokenType.Unused:
                    continue;
                case SentencePieceTokenType.Byte when byteOfToken[id] >= 0:
                    bytes.Add((byte)byteOfToken[id]);
                    break;
                default:
                    string piece = token.Replace(SpaceSymbol, ' ');
                    if (atStart && Vocabulary.AddSpacePrefix && piece.StartsWith(' ')) piece = piece[1..];
                    bytes.AddRange(Encoding.UTF8.GetBytes(piece));
                    break;
            }
            atStart = false;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <inheritdoc />
    public string? SpecialTokenText(int id) =>
        (uint)id < (uint)VocabSize && Vocabulary.Types[id] is SentencePieceTokenType.Control or SentencePieceTokenType.Unknown
            ? Vocabulary.Tokens[id]
            : null;

    /// <summary>The text cut at every occurrence of a special token's text: (text, -1) or (text, id).</summary>
    List<(string Text, int Id)> SplitSpecials(string text)
    {
        var fragments = new List<(string Text, int Id)>();
        if (text.Length == 0) return fragments;
        fragments.Add((text, -1));
        foreach (var (special, specialId) in specials)
        {
            var next = new List<(string Text, int Id)>(fragments.Count);
            foreach (var fragment in fragments)
            {
                if (fragment.Id >= 0)
                {
                    next.Add(fragment);
                    continue;
                }
                int from = 0;
                for (int at; (at = fragment.Text.IndexOf(special, from, StringComparison.Ordinal)) >= 0; from = at + special.Length)
                {
                    if (at > from) next.Add((fragment.Text[from..at], -1));
                    next.Add((special, specialId));
                }
                if (from < fragment.Text.Length) next.Add((fragment.Text[from..], -1));
            }
            fragments = next;
        }
        return fragments;
    }

    /// <summary>llama.cpp's <c>llm_tokenizer_spm_session::tokenize</c> on one fragment of escaped text.</summary>
    void EncodePieces(string text, List<int> output)
    {
        // Symbols are UTF-8 characters (surrogate pairs kept whole) in a doubly linked list; a merge
        // grows the left symbol and unlinks the right one.
        var symbols = new List<Symbol>();
        for (int i = 0; i < text.Length;)
        {
            int length = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int index = symbols.Count;
            symbols.Add(new Symbol(i, length, Encoding.UTF8.GetByteCount(text.AsSpan(i, length)), index - 1, i + length == text.Length ? -1 : index + 1));
            i += length;
        }
        if (symbols.Count == 0) return;

        // Highest score first; among equal scores the leftmost pair, as llama.cpp's comparator orders them.
        var queue = new PriorityQueue<Bigram, (float Score, int Left)>(
            Comparer<(float Score, int Left)>.Create((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left)));
        for (int i = 1; i < symbols.Count; i++) TryAddBigram(text, symbols, queue, i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            var left = symbols[bigram.Left];
            var right = symbols[bigram.Right];
            // A pair whose symbols changed since it was queued is stale.
            if (left.Bytes == 0 || right.Bytes == 0 || left.Bytes + right.Bytes != bigram.Bytes) continue;
            left = left with { Chars = left.Chars + right.Chars, Bytes = left.Bytes + right.Bytes, Next = right.Next };
            symbols[bigram.Left] = left;
            symbols[bigram.Right] = right with { Bytes = 0 };
            if (right.Next >= 0) symbols[right.Next] = symbols[right.Next] with { Prev = bigram.Left };
            TryAddBigram(text, symbols, queue, left.Prev, bigram.Left);
            TryAddBigram(text, symbols, queue, bigram.Left, left.Next);
        }

        for (int i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = text.AsSpan(symbols[i].Start, symbols[i].Chars);
            if (idsBySpan.TryGetValue(piece, out int id))
            {
                output.Add(id);
                continue;
            }
            // Only single characters are ever outside the vocabulary: every merge made an entry of it.
            foreach (byte b in Encoding.UTF8.GetBytes(piece.ToString())) output.Add(byteTokens[b]);
        }
    }

    void TryAddBigram(string text, List<Symbol> symbols, PriorityQueue<Bigram, (float Score, int Left)> queue, int left, int right)
    {
        if (left < 0 || right < 0) return;
        var merged = text.AsSpan(symbols[left].Start, symbols[left].Chars + symbols[right].Chars);
        if (!idsBySpan.TryGetValue(merged, out int id)) return;
        queue.Enqueue(new Bigram(left, right, symbols[left].Bytes + symbols[right].Bytes), (Vocabulary.Scores[id], left));
    }

    readonly record struct Symbol(int Start, int Chars, int Bytes, int Prev, int Next);

    readonly record struct Bigram(int Left, int Right, int Bytes);
}
