using System.Globalization;
using System.Text;

namespace Rollout.Models.Tokenization;

/// <summary>
/// Lets .NET regexes split text the way Oniguruma does. .NET matches UTF-16 code units, so an astral
/// letter such as 𝐇 or 𠀀 is two surrogates, neither of them <c>\p{L}</c>, and a Split regex groups it with
/// punctuation; Oniguruma (and the JS reference) see one letter. The shadow replaces each astral code point
/// with one BMP character of the same Unicode category, so classes and counted quantifiers see what
/// Oniguruma sees, and maps match positions back to the original text.
/// </summary>
internal static class CodePointShadow
{
    /// <summary>
    /// The shadow of <paramref name="text"/> and, for each shadow index (plus one past the end), the
    /// matching offset in <paramref name="text"/>.
    /// </summary>
    public static (string Shadow, int[] Offsets) Create(string text)
    {
        var shadow = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                shadow.Append(Representative(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))));
                i++;
            }
            else
            {
                shadow.Append(text[i]);
            }
        }
        offsets.Add(text.Length);
        return (shadow.ToString(), [.. offsets]);
    }

    /// <summary>A BMP character of <paramref name="category"/>, chosen outside ASCII so no literal in a pattern matches it.</summary>
    static char Representative(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u0100',
        UnicodeCategory.LowercaseLetter => '\u0101',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u203B',
        UnicodeCategory.MathSymbol => '\u2200',
        UnicodeCategory.CurrencySymbol => '\u20A0',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u2300',
        UnicodeCategory.Format => '\u2060',
        UnicodeCategory.PrivateUse => '\uE000',
        _ => '\uFFFE', // unassigned: a BMP noncharacter is unassigned too
    };
}
