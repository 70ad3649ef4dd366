using System.Globalization;

namespace Rollout.Models.Chat.Jinja;

/// <summary>Recursive-descent parser with Jinja's operator precedence, from tokens to statements.</summary>
internal sealed class Parser
{
    readonly List<Token> _tokens;
    int _index;

    Parser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Stmt> Parse(string source)
    {
        var parser = new Parser(Lexer.Tokenize(source));
        var body = parser.ParseBody(out var end);
        if (end is not null)
            throw Error(parser.Peek(-1).Position, $"Unexpected '{end}' with no open block");
        return body;
    }

    Token Peek(int offset = 0) => _tokens[Math.Clamp(_index + offset, 0, _tokens.Count - 1)];

    Token Next() => _tokens[Math.Min(_index++, _tokens.Count - 1)];

    static ChatTemplateException Error(SourcePosition position, string message) => new($"{message} at {position}");

    bool IsOperator(string op) => Peek().Is(TokenKind.Operator, op);

    bool IsName(string name) => Peek().Is(TokenKind.Name, name);

    bool AcceptOperator(string op)
    {
        if (!IsOperator(op)) return false;
        _index++;
        return true;
    }

    bool AcceptName(string name)
    {
        if (!IsName(name)) return false;
        _index++;
        return true;
    }

    Token Expect(TokenKind kind, string? value = null)
    {
        var token = Peek();
        if (token.Kind != kind || (value is not null && token.Value != value))
            throw Error(token.Position, $"Expected {value ?? kind.ToString()} but found {Describe(token)}");
        return Next();
    }

    static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.Text => "text",
        _ => $"'{token.Value}'",
    };

    /// <summary>
    /// Parses statements until the end of input or a block keyword this level does not own
    /// (endif, else, ...), which is left for the caller and returned in <paramref name="end"/>.
    /// </summary>
    List<Stmt> ParseBody(out string? end)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Peek();
            switch (token.Kind)
            {
                case TokenKind.End:
                    end = null;
                    return body;
                case TokenKind.Text:
                    Next();
                    body.Add(new TextStmt(token.Value, token.Position));
                    break;
                case TokenKind.OpenExpression:
                    Next();
                    body.Add(new OutputStmt(ParseExpression(), token.Position));
                    Expect(TokenKind.CloseExpression);
                    break;
                case TokenKind.OpenStatement:
                    var keyword = Peek(1);
                    if (keyword.Kind == TokenKind.Name && keyword.Value is "endif" or "elif" or "else" or "endfor" or "endset" or "endmacro")
                    {
                        end = keyword.Value;
                        return body;
                    }
                    Next();
                    if (ParseStatement() is { } statement) body.Add(statement);
                    break;
                default:
                    throw Error(token.Position, $"Unexpected {Describe(token)}");
            }
        }
    }

    List<Stmt> ParseBlockUntil(string opener, SourcePosition position, params string[] ends)
    {
        var body = ParseBody(out var end);
        if (end is null || !ends.Contains(end))
            throw Error(end is null ? Peek().Position : Peek(1).Position,
                $"Unclosed '{opener}' (opened at {position}): expected {string.Join(" or ", ends)}");
        return body;
    }

    /// <summary>Consumes <c>{% keyword %}</c> that closes or continues a block.</summary>
    void ExpectTag(string keyword)
    {
        Expect(TokenKind.OpenStatement);
        Expect(TokenKind.Name, keyword);
        Expect(TokenKind.CloseStatement);
    }

    Stmt? ParseStatement()
    {
        var keyword = Expect(TokenKind.Name);
        switch (keyword.Value)
        {
            case "if": return ParseIf(keyword.Position);
            case "for": return ParseFor(keyword.Position);
            case "set": return ParseSet(keyword.Position);
            case "macro": return ParseMacro(keyword.Position);
            case "break":
                Expect(TokenKind.CloseStatement);
                return new BreakStmt(keyword.Position);
            case "continue":
                Expect(TokenKind.CloseStatement);
                return new ContinueStmt(keyword.Position);
            case "generation" or "endgeneration":
                // transformers' marker for assistant-token masks; it renders nothing.
                Expect(TokenKind.CloseStatement);
                return null;
            default:
                throw Error(keyword.Position, $"Unknown tag '{keyword.Value}'");
        }
    }

    IfStmt ParseIf(SourcePosition position)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        var test = ParseExpression();
        Expect(TokenKind.CloseStatement);
        while (true)
        {
            var body = ParseBlockUntil("if", position, "elif", "else", "endif");
            branches.Add((test, body));
            Expect(TokenKind.OpenStatement);
            var keyword = Next();
            if (keyword.Value == "elif")
            {
                test = ParseExpression();
                Expect(TokenKind.CloseStatement);
                continue;
            }
            Expect(TokenKind.CloseStatement);
            if (keyword.Value == "endif") return new IfStmt(branches, [], position);
            var elseBody = ParseBlockUntil("if", position, "endif");
            ExpectTag("endif");
            return new IfStmt(branches, elseBody, position);
        }
    }

    ForStmt ParseFor(SourcePosition position)
    {
        var targets = new List<string> { Expect(TokenKind.Name).Value };
        while (AcceptOperator(",")) targets.Add(Expect(TokenKind.Name).Value);
        Expect(TokenKind.Name, "in");
        // The iterable stops before a trailing "if": that is the loop filter, not a conditional.
        var iterable = ParseOr();
        Expr? filter = AcceptName("if") ? ParseExpression() : null;
        Expect(TokenKind.CloseStatement);
        var body = ParseBlockUntil("for", position, "else", "endfor");
        IReadOnlyList<Stmt> elseBody = [];
        Expect(TokenKind.OpenStatement);
        if (Next().Value == "else")
        {
            Expect(TokenKind.CloseStatement);
            elseBody = ParseBlockUntil("for", position, "endfor");
            Expect(TokenKind.OpenStatement);
            Expect(TokenKind.Name, "endfor");
        }
        Expect(TokenKind.CloseStatement);
        return new ForStmt(targets, iterable, filter, body, elseBody, position);
    }

    SetStmt ParseSet(SourcePosition position)
    {
        var first = Expect(TokenKind.Name);
        Expr target = new NameExpr(first.Value, first.Position);
        if (AcceptOperator("."))
        {
            target = new AttributeExpr(target, Expect(TokenKind.Name).Value, first.Position);
        }
        else if (IsOperator(","))
        {
            var names = new List<Expr> { target };
            while (AcceptOperator(","))
            {
                var name = Expect(TokenKind.Name);
                names.Add(new NameExpr(name.Value, name.Position));
            }
            target = new ListExpr(names, first.Position);
        }
        if (AcceptOperator("="))
        {
            var value = ParseTuple();
            Expect(TokenKind.CloseStatement);
            return new SetStmt(target, value, [], position);
        }
        Expect(TokenKind.CloseStatement);
        var body = ParseBlockUntil("set", position, "endset");
        ExpectTag("endset");
        return new SetStmt(target, null, body, position);
    }

    MacroStmt ParseMacro(SourcePosition position)
    {
        string name = Expect(TokenKind.Name).Value;
        Expect(TokenKind.Operator, "(");
        var parameters = new List<(string, Expr?)>();
        while (!AcceptOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            string parameter = Expect(TokenKind.Name).Value;
            parameters.Add((parameter, AcceptOperator("=") ? ParseExpression() : null));
        }
        Expect(TokenKind.CloseStatement);
        var body = ParseBlockUntil("macro", position, "endmacro");
        ExpectTag("endmacro");
        return new MacroStmt(name, parameters, body, position);
    }

    /// <summary>An expression, or a bare tuple <c>a, b</c> where Jinja allows one (set values).</summary>
    Expr ParseTuple()
    {
        var first = ParseExpression();
        if (!IsOperator(",")) return first;
        var items = new List<Expr> { first };
        while (AcceptOperator(",")) items.Add(ParseExpression());
        return new ListExpr(items, first.Position);
    }

    public Expr ParseExpression()
    {
        var value = ParseOr();
        if (!IsName("if")) return value;
        var position = Next().Position;
        var test = ParseOr();
        Expr? otherwise = AcceptName("else") ? ParseExpression() : null;
        return new ConditionalExpr(test, value, otherwise, position);
    }

    Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var position = Next().Position;
            left = new BinaryExpr("or", left, ParseAnd(), position);
        }
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var position = Next().Position;
            left = new BinaryExpr("and", left, ParseNot(), position);
        }
        return left;
    }

    Expr ParseNot()
    {
        if (!IsName("not")) return ParseComparison();
        var position = Next().Position;
        return new UnaryExpr("not", ParseNot(), position);
    }

    Expr ParseComparison()
    {
        var left = ParseAdditive();
        while (true)
        {
            var token = Peek();
            string? op = token switch
            {
                { Kind: TokenKind.Operator, Value: "==" or "!=" or "<" or ">" or "<=" or ">=" } => token.Value,
                { Kind: TokenKind.Name, Value: "in" } => "in",
                { Kind: TokenKind.Name, Value: "not" } when Peek(1).Is(TokenKind.Name, "in") => "not in",
                _ => null,
            };
            if (op is null) return left;
            _index += op == "not in" ? 2 : 1;
            left = new BinaryExpr(op, left, ParseAdditive(), token.Position);
        }
    }

    Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (IsOperator("+") || IsOperator("-"))
        {
            var token = Next();
            left = new BinaryExpr(token.Value, left, ParseConcat(), token.Position);
        }
        return left;
    }

    Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (IsOperator("~"))
        {
            var token = Next();
            left = new BinaryExpr("~", left, ParseMultiplicative(), token.Position);
        }
        return left;
    }

    Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (IsOperator("*") || IsOperator("/") || IsOperator("//") || IsOperator("%"))
        {
            var token = Next();
            left = new BinaryExpr(token.Value, left, ParsePower(), token.Position);
        }
        return left;
    }

    Expr ParsePower()
    {
        var left = ParseUnary();
        while (IsOperator("**"))
        {
            var token = Next();
            left = new BinaryExpr("**", left, ParseUnary(), token.Position);
        }
        return left;
    }

    Expr ParseUnary()
    {
        if (IsOperator("-") || IsOperator("+"))
        {
            var token = Next();
            return ParseFiltersAndTests(new UnaryExpr(token.Value, ParseUnary(), token.Position));
        }
        return ParseFiltersAndTests(ParsePostfix(ParsePrimary()));
    }

    Expr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.String:
                // Adjacent string literals concatenate, as in Python.
                string text = token.Value;
                while (Peek().Kind == TokenKind.String) text += Next().Value;
                return new LiteralExpr(text, token.Position);
            case TokenKind.Integer:
                return new LiteralExpr(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Position);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Position);
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Position),
                    "false" or "False" => new LiteralExpr(false, token.Position),
                    "none" or "None" => new LiteralExpr(null, token.Position),
                    _ => new NameExpr(token.Value, token.Position),
                };
            case TokenKind.Operator when token.Value == "(":
                if (AcceptOperator(")")) return new ListExpr([], token.Position);
                var inner = ParseExpression();
                if (IsOperator(","))
                {
                    var items = new List<Expr> { inner };
                    while (AcceptOperator(",") && !IsOperator(")")) items.Add(ParseExpression());
                    inner = new ListExpr(items, token.Position);
                }
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                return new ListExpr(ParseSequence("]"), token.Position);
            case TokenKind.Operator when token.Value == "{":
                var entries = new List<(Expr, Expr)>();
                while (!AcceptOperator("}"))
                {
                    if (entries.Count > 0)
                    {
                        Expect(TokenKind.Operator, ",");
                        if (AcceptOperator("}")) break;
                    }
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    entries.Add((key, ParseExpression()));
                }
                return new DictExpr(entries, token.Position);
            default:
                throw Error(token.Position, $"Unexpected {Describe(token)} in expression");
        }
    }

    List<Expr> ParseSequence(string close)
    {
        var items = new List<Expr>();
        while (!AcceptOperator(close))
        {
            if (items.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (AcceptOperator(close)) break;
            }
            items.Add(ParseExpression());
        }
        return items;
    }

    Expr ParsePostfix(Expr target)
    {
        while (true)
        {
            var token = Peek();
            if (AcceptOperator("."))
            {
                var name = Next();
                if (name.Kind is not (TokenKind.Name or TokenKind.Integer))
                    throw Error(name.Position, $"Expected attribute name after '.' but found {Describe(name)}");
                target = name.Kind == TokenKind.Integer
                    ? new IndexExpr(target, new LiteralExpr(long.Parse(name.Value, CultureInfo.InvariantCulture), name.Position), token.Position)
                    : new AttributeExpr(target, name.Value, token.Position);
            }
            else if (AcceptOperator("["))
            {
                target = ParseSubscript(target, token.Position);
            }
            else if (AcceptOperator("("))
            {
                target = new CallExpr(target, ParseArguments(), token.Position);
            }
            else
            {
                return target;
            }
        }
    }

    Expr ParseSubscript(Expr target, SourcePosition position)
    {
        Expr? start = IsOperator(":") ? null : ParseExpression();
        if (start is not null && AcceptOperator("]")) return new IndexExpr(target, start, position);
        Expect(TokenKind.Operator, ":");
        Expr? stop = IsOperator(":") || IsOperator("]") ? null : ParseExpression();
        Expr? step = null;
        if (AcceptOperator(":") && !IsOperator("]")) step = ParseExpression();
        Expect(TokenKind.Operator, "]");
        return new SliceExpr(target, start, stop, step, position);
    }

    /// <summary>Parses call arguments after the opening parenthesis, through the closing one.</summary>
    Arguments ParseArguments()
    {
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!AcceptOperator(")"))
        {
            if (positional.Count + named.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (AcceptOperator(")")) break;
            }
            if (Peek().Kind == TokenKind.Name && Peek(1).Is(TokenKind.Operator, "="))
            {
                string name = Next().Value;
                Next();
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw Error(Peek().Position, "Positional argument after keyword argument");
                positional.Add(ParseExpression());
            }
        }
        return new Arguments(positional, named);
    }

    Expr ParseFiltersAndTests(Expr operand)
    {
        while (true)
        {
            var token = Peek();
            if (AcceptOperator("|"))
            {
                string name = Expect(TokenKind.Name).Value;
                var arguments = AcceptOperator("(") ? ParseArguments() : Arguments.None;
                operand = ParsePostfix(new FilterExpr(operand, name, arguments, token.Position));
            }
            else if (AcceptName("is"))
            {
                bool negated = AcceptName("not");
                var nameToken = Next();
                if (nameToken.Kind != TokenKind.Name)
                    throw Error(nameToken.Position, $"Expected a test name after 'is' but found {Describe(nameToken)}");
                // A test named like a literal: "is none", "is true", "is false".
                string name = nameToken.Value.ToLowerInvariant() is "none" or "true" or "false" ? nameToken.Value.ToLowerInvariant() : nameToken.Value;
                var arguments = Arguments.None;
                if (AcceptOperator("(")) arguments = ParseArguments();
                else if (Peek().Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float)
                    arguments = new Arguments([ParsePrimary()], []);
                operand = new TestExpr(operand, name, arguments, negated, token.Position);
            }
            else
            {
                return operand;
            }
        }
    }
}
