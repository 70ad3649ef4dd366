using System.Text;

namespace Rollout.Models.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character map: byte-level BPE vocabularies spell every byte as a
/// printable character (space is <c>Ġ</c>, newline <c>Ċ</c>) so that merges never see raw control bytes.
/// </summary>
internal static class ByteLevelAlphabet
{
    static readonly char[] ByteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(p => p.c, p => (byte)p.b);

    /// <summary>The character that spells <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The byte-level spelling of <paramref name="text"/>'s UTF-8 bytes (how vocabulary keys are written).</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (chars, bytes) =>
        {
            for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        });
    }

    /// <summary>
    /// Appends the bytes <paramref name="token"/> spells. A character outside the alphabet stands for
    /// its own UTF-8 bytes, as in the Rust tokenizers' ByteLevel decoder.
    /// </summary>
    public static void AppendBytes(string token, List<byte> bytes)
    {
        foreach (char c in token)
        {
            if (CharToByte.TryGetValue(c, out byte b)) bytes.Add(b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
    }

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }
}
