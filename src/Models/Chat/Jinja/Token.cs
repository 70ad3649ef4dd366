namespace Rollout.Models.Chat.Jinja;

internal enum TokenKind
{
    Text,
    OpenExpression,
    CloseExpression,
    OpenStatement,
    CloseStatement,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>Where a token or node starts in the template source, 1-based, for error messages.</summary>
internal readonly record struct SourcePosition(int Line, int Column)
{
    public override string ToString() => $"line {Line}, column {Column}";
}

internal sealed record Token(TokenKind Kind, string Value, SourcePosition Position)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
}
