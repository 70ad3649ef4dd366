namespace Rollout.Models.Chat.Jinja;

/// <summary>A piece of a template: text, an output, or a tag with its body.</summary>
internal abstract record Stmt(SourcePosition Position);

internal sealed record TextStmt(string Text, SourcePosition Position) : Stmt(Position);

internal sealed record OutputStmt(Expr Value, SourcePosition Position) : Stmt(Position);

internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt> Else, SourcePosition Position) : Stmt(Position);

/// <summary><c>for a, b in items if filter</c>; <see cref="Else"/> renders when nothing was iterated.</summary>
internal sealed record ForStmt(IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else, SourcePosition Position) : Stmt(Position);

/// <summary>
/// <c>set x = v</c>, <c>set a, b = v</c>, <c>set ns.attr = v</c>, or the block form whose value is
/// its rendered <see cref="Body"/> (then <see cref="Value"/> is null).
/// </summary>
internal sealed record SetStmt(Expr Target, Expr? Value, IReadOnlyList<Stmt> Body, SourcePosition Position) : Stmt(Position);

internal sealed record MacroStmt(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Stmt> Body, SourcePosition Position) : Stmt(Position);

internal sealed record BreakStmt(SourcePosition Position) : Stmt(Position);

internal sealed record ContinueStmt(SourcePosition Position) : Stmt(Position);
