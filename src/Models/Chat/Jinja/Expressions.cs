namespace Rollout.Models.Chat.Jinja;

/// <summary>An expression inside <c>{{ }}</c> or a tag; evaluated by <see cref="Evaluator"/>.</summary>
internal abstract record Expr(SourcePosition Position);

internal sealed record LiteralExpr(object? Value, SourcePosition Position) : Expr(Position);

internal sealed record NameExpr(string Name, SourcePosition Position) : Expr(Position);

/// <summary>A list or tuple literal; templates cannot tell them apart, so both evaluate to a list.</summary>
internal sealed record ListExpr(IReadOnlyList<Expr> Items, SourcePosition Position) : Expr(Position);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Entries, SourcePosition Position) : Expr(Position);

/// <summary><c>a.b</c>: a mapping's key, or a method of a string or mapping.</summary>
internal sealed record AttributeExpr(Expr Target, string Name, SourcePosition Position) : Expr(Position);

internal sealed record IndexExpr(Expr Target, Expr Key, SourcePosition Position) : Expr(Position);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, SourcePosition Position) : Expr(Position);

internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named)
{
    public static readonly Arguments None = new([], []);
}

internal sealed record CallExpr(Expr Callee, Arguments Arguments, SourcePosition Position) : Expr(Position);

internal sealed record FilterExpr(Expr Operand, string Name, Arguments Arguments, SourcePosition Position) : Expr(Position);

internal sealed record TestExpr(Expr Operand, string Name, Arguments Arguments, bool Negated, SourcePosition Position) : Expr(Position);

internal sealed record UnaryExpr(string Operator, Expr Operand, SourcePosition Position) : Expr(Position);

internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, SourcePosition Position) : Expr(Position);

/// <summary><c>a if test else b</c>; without <c>else</c> the result is undefined when the test fails.</summary>
internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, SourcePosition Position) : Expr(Position);
