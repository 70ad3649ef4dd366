using System.Globalization;
using System.Text;

namespace Rollout.Models.Chat.Jinja;

/// <summary>
/// Splits a template into text and tag tokens. Whitespace handling follows what HF applies to chat
/// templates: trim_blocks and lstrip_blocks on, `-` markers, and one trailing newline dropped.
/// </summary>
internal sealed class Lexer
{
    // Longest first, so that "**" is not read as two "*".
    static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "="];

    readonly string _source;
    readonly List<Token> _tokens = [];
    readonly int[] _lineStarts;
    int _pos;
    // Whether the tag just closed asks to eat the text's leading newline (trim_blocks) or all
    // leading whitespace (a "-" marker).
    bool _trimNextNewline;
    bool _stripNextWhitespace;

    Lexer(string source)
    {
        _source = source.EndsWith('\n') ? source[..^1] : source;
        var starts = new List<int> { 0 };
        for (int i = 0; i < _source.Length; i++)
            if (_source[i] == '\n') starts.Add(i + 1);
        _lineStarts = [.. starts];
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    void Run()
    {
        while (_pos < _source.Length)
        {
            int tagStart = FindTagStart(_pos);
            int textEnd = tagStart < 0 ? _source.Length : tagStart;
            EmitText(_pos, textEnd, tagStart < 0 ? null : _source[tagStart + 1], tagStart >= 0 && At(tagStart + 2, '-'));
            if (tagStart < 0) break;
            _pos = tagStart;
            switch (_source[tagStart + 1])
            {
                case '#': SkipComment(); break;
                case '%': LexTag(TokenKind.OpenStatement, TokenKind.CloseStatement, '%'); break;
                default: LexTag(TokenKind.OpenExpression, TokenKind.CloseExpression, '}'); break;
            }
        }
        _tokens.Add(new Token(TokenKind.End, "", PositionOf(_source.Length)));
    }

    int FindTagStart(int from)
    {
        for (int i = from; i + 1 < _source.Length; i++)
        {
            if (_source[i] == '{' && _source[i + 1] is '{' or '%' or '#') return i;
        }
        return -1;
    }

    void EmitText(int start, int end, char? nextTag, bool nextStripsBefore)
    {
        string text = _source[start..end];
        // lstrip_blocks looks at the source as written, so it goes before trim_blocks.
        if (nextTag is '%' or '#') text = LstripBlock(text, start);
        if (_trimNextNewline && text.StartsWith('\n')) text = text[1..];
        if (_stripNextWhitespace) text = text.TrimStart();
        if (nextStripsBefore) text = text.TrimEnd();
        _trimNextNewline = _stripNextWhitespace = false;
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, PositionOf(start)));
    }

    string LstripBlock(string text, int start)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && start != 0) return text;
        for (int i = lineStart; i < text.Length; i++)
        {
            if (text[i] is not (' ' or '\t')) return text;
        }
        return text[..lineStart];
    }

    void SkipComment()
    {
        var open = PositionOf(_pos);
        int close = _source.IndexOf("#}", _pos + 2, StringComparison.Ordinal);
        if (close < 0) throw new ChatTemplateException($"Unclosed comment starting at {open}");
        _stripNextWhitespace = _source[close - 1] == '-' && close - 1 > _pos + 2;
        _trimNextNewline = true;
        _pos = close + 2;
    }

    void LexTag(TokenKind open, TokenKind close, char closeChar)
    {
        var openPosition = PositionOf(_pos);
        _tokens.Add(new Token(open, open == TokenKind.OpenStatement ? "{%" : "{{", openPosition));
        _pos += At(_pos + 2, '-') ? 3 : 2;
        int braceDepth = 0;
        while (true)
        {
            while (_pos < _source.Length && char.IsWhiteSpace(_source[_pos])) _pos++;
            if (_pos >= _source.Length)
                throw new ChatTemplateException($"Unclosed tag starting at {openPosition}");
            var position = PositionOf(_pos);
            bool dashed = At(_pos, '-') && At(_pos + 1, closeChar) && At(_pos + 2, '}');
            if (braceDepth == 0 && (dashed || (At(_pos, closeChar) && At(_pos + 1, '}'))))
            {
                _tokens.Add(new Token(close, close == TokenKind.CloseStatement ? "%}" : "}}", position));
                _pos += dashed ? 3 : 2;
                _stripNextWhitespace = dashed;
                _trimNextNewline = close == TokenKind.CloseStatement;
                return;
            }
            char c = _source[_pos];
            if (c is '\'' or '"') _tokens.Add(new Token(TokenKind.String, ReadString(c), position));
            else if (char.IsAsciiDigit(c)) _tokens.Add(ReadNumber(position));
            else if (char.IsLetter(c) || c == '_') _tokens.Add(new Token(TokenKind.Name, ReadWhile(ch => char.IsLetterOrDigit(ch) || ch == '_'), position));
            else
            {
                string op = Operators.FirstOrDefault(o => string.CompareOrdinal(_source, _pos, o, 0, o.Length) == 0)
                    ?? throw new ChatTemplateException($"Unexpected character '{c}' at {position}");
                if (op == "{") braceDepth++;
                else if (op == "}") braceDepth--;
                _tokens.Add(new Token(TokenKind.Operator, op, position));
                _pos += op.Length;
            }
        }
    }

    string ReadString(char quote)
    {
        var start = PositionOf(_pos);
        var sb = new StringBuilder();
        _pos++;
        while (true)
        {
            if (_pos >= _source.Length) throw new ChatTemplateException($"Unterminated string starting at {start}");
            char c = _source[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\' || _pos >= _source.Length)
            {
                sb.Append(c);
                continue;
            }
            char e = _source[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '\\' or '\'' or '"': sb.Append(e); break;
                case 'x' or 'u':
                    int length = e == 'x' ? 2 : 4;
                    if (_pos + length > _source.Length
                        || !int.TryParse(_source.AsSpan(_pos, length), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                        throw new ChatTemplateException($"Invalid \\{e} escape in string at {start}");
                    sb.Append((char)code);
                    _pos += length;
                    break;
                default:
                    // Python keeps unknown escapes as written.
                    sb.Append('\\').Append(e);
                    break;
            }
        }
    }

    Token ReadNumber(SourcePosition position)
    {
        string digits = ReadWhile(char.IsAsciiDigit);
        if (At(_pos, '.') && _pos + 1 < _source.Length && char.IsAsciiDigit(_source[_pos + 1]))
        {
            _pos++;
            return new Token(TokenKind.Float, digits + "." + ReadWhile(char.IsAsciiDigit), position);
        }
        return new Token(TokenKind.Integer, digits, position);
    }

    string ReadWhile(Func<char, bool> predicate)
    {
        int start = _pos;
        while (_pos < _source.Length && predicate(_source[_pos])) _pos++;
        return _source[start.._pos];
    }

    bool At(int index, char c) => index < _source.Length && _source[index] == c;

    SourcePosition PositionOf(int offset)
    {
        int line = Array.BinarySearch(_lineStarts, offset);
        if (line < 0) line = ~line - 1;
        return new SourcePosition(line + 1, offset - _lineStarts[line] + 1);
    }
}
