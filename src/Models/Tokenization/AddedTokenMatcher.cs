using System.Buffers;

namespace Rollout.Models.Tokenization;

/// <summary>
/// Finds added tokens written in text the way Hugging Face does: scanning left to right, the earliest
/// occurrence wins, and among tokens starting there the longest.
/// </summary>
internal sealed class AddedTokenMatcher
{
    readonly Dictionary<char, AddedToken[]> _byFirstChar;
    readonly SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    /// <summary>The next added token at or after <paramref name="start"/>, or null when none remains.</summary>
    public (int Index, AddedToken Token)? Next(string text, int start)
    {
        while (start < text.Length)
        {
            int offset = text.AsSpan(start).IndexOfAny(_firstChars);
            if (offset < 0) return null;
            int index = start + offset;
            foreach (var token in _byFirstChar[text[index]])
            {
                if (text.AsSpan(index).StartsWith(token.Content, StringComparison.Ordinal)) return (index, token);
            }
            start = index + 1;
        }
        return null;
    }
}
