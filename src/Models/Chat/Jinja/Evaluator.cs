using System.Text;

namespace Rollout.Models.Chat.Jinja;

/// <summary>Renders parsed statements against a scope. One instance per render; the AST is shared and never changed.</summary>
internal sealed class Evaluator
{
    enum Flow { Normal, Break, Continue }

    readonly StringBuilder _output = new();

    public static string Render(IReadOnlyList<Stmt> template, Scope globals)
    {
        var evaluator = new Evaluator();
        evaluator.RenderBlock(template, new Scope(globals), evaluator._output);
        return evaluator._output.ToString();
    }

    Flow RenderBlock(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var statement in body)
        {
            var flow = RenderStatement(statement, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow RenderStatement(Stmt statement, Scope scope, StringBuilder output)
    {
        switch (statement)
        {
            case TextStmt text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputStmt o:
                output.Append(Values.ToText(Evaluate(o.Value, scope)));
                return Flow.Normal;
            case IfStmt i:
                foreach (var (test, body) in i.Branches)
                {
                    if (Values.IsTruthy(Evaluate(test, scope))) return RenderBlock(body, scope, output);
                }
                return RenderBlock(i.Else, scope, output);
            case ForStmt f:
                RenderFor(f, scope, output);
                return Flow.Normal;
            case SetStmt s:
                Assign(s.Target, s.Value is null ? RenderToString(s.Body, scope) : Evaluate(s.Value, scope), scope);
                return Flow.Normal;
            case MacroStmt m:
                scope.Set(m.Name, MakeMacro(m, scope));
                return Flow.Normal;
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new InvalidOperationException($"unhandled statement {statement.GetType().Name}");
        }
    }

    string RenderToString(IReadOnlyList<Stmt> body, Scope scope)
    {
        var output = new StringBuilder();
        RenderBlock(body, scope, output);
        return output.ToString();
    }

    void RenderFor(ForStmt f, Scope scope, StringBuilder output)
    {
        var source = Guard(f.Iterable.Position, () => Values.Iterate(Evaluate(f.Iterable, scope)));
        var loopScope = new Scope(scope);
        var items = new List<object?>();
        foreach (var item in source)
        {
            if (f.Filter is null)
            {
                items.Add(item);
                continue;
            }
            Bind(f, item, loopScope);
            if (Values.IsTruthy(Evaluate(f.Filter, loopScope))) items.Add(item);
        }
        if (items.Count == 0)
        {
            RenderBlock(f.Else, scope, output);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            loopScope.Set("loop", LoopVariable(items, i));
            Bind(f, items[i], loopScope);
            if (RenderBlock(f.Body, loopScope, output) == Flow.Break) break;
        }
    }

    static OrderedDictionary<string, object?> LoopVariable(List<object?> items, int i) => new()
    {
        ["index"] = (long)i + 1,
        ["index0"] = (long)i,
        ["revindex"] = (long)(items.Count - i),
        ["revindex0"] = (long)(items.Count - i - 1),
        ["first"] = i == 0,
        ["last"] = i == items.Count - 1,
        ["length"] = (long)items.Count,
        ["previtem"] = i > 0 ? items[i - 1] : Undefined.Instance,
        ["nextitem"] = i < items.Count - 1 ? items[i + 1] : Undefined.Instance,
        ["cycle"] = (Function)(a => a.Positional.Count == 0 ? Undefined.Instance : a.Positional[i % a.Positional.Count]),
    };

    static void Bind(ForStmt f, object? item, Scope scope)
    {
        if (f.Targets.Count == 1)
        {
            scope.Set(f.Targets[0], item);
            return;
        }
        var parts = Guard(f.Position, () => Values.Iterate(item));
        if (parts.Count != f.Targets.Count)
            throw Fail(f.Position, $"cannot unpack {parts.Count} values into {f.Targets.Count} loop variables");
        for (int i = 0; i < parts.Count; i++) scope.Set(f.Targets[i], parts[i]);
    }

    void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr name:
                scope.Set(name.Name, value);
                break;
            case AttributeExpr { Target: var owner } attribute:
                if (Evaluate(owner, scope) is not Namespace ns)
                    throw Fail(attribute.Position, "cannot assign an attribute of something that is not a namespace()");
                ns.Attributes[attribute.Name] = value;
                break;
            case ListExpr names:
                var parts = Guard(target.Position, () => Values.Iterate(value));
                if (parts.Count != names.Items.Count)
                    throw Fail(target.Position, $"cannot unpack {parts.Count} values into {names.Items.Count} variables");
                for (int i = 0; i < parts.Count; i++) Assign(names.Items[i], parts[i], scope);
                break;
        }
    }

    Function MakeMacro(MacroStmt macro, Scope definition) => arguments =>
    {
        var local = new Scope(definition);
        for (int i = 0; i < macro.Parameters.Count; i++)
        {
            var (name, fallback) = macro.Parameters[i];
            local.Set(name, i < arguments.Positional.Count ? arguments.Positional[i]
                : arguments.Named.TryGetValue(name, out var value) ? value
                : fallback is null ? Undefined.Instance : Evaluate(fallback, local));
        }
        return RenderToString(macro.Body, local);
    };

    object? Evaluate(Expr expression, Scope scope)
    {
        try
        {
            return EvaluateUnguarded(expression, scope);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(expression.Position, e.Message);
        }
    }

    object? EvaluateUnguarded(Expr expression, Scope scope) => expression switch
    {
        LiteralExpr l => l.Value,
        NameExpr n => scope.Lookup(n.Name),
        ListExpr l => l.Items.Select(x => Evaluate(x, scope)).ToList(),
        DictExpr d => Values.ToDictionary(d.Entries.Select(e => (Values.ToText(Evaluate(e.Key, scope)), Evaluate(e.Value, scope)))),
        AttributeExpr a => GetAttribute(Evaluate(a.Target, scope), a.Name, a.Target),
        IndexExpr i => GetItem(Evaluate(i.Target, scope), Evaluate(i.Key, scope), i.Target),
        SliceExpr s => Slice(Evaluate(s.Target, scope), EvaluateOptional(s.Start, scope), EvaluateOptional(s.Stop, scope), EvaluateOptional(s.Step, scope)),
        CallExpr c => Call(c, scope),
        FilterExpr f => (Filters.Find(f.Name) ?? throw Fail(f.Position, $"Unknown filter '{f.Name}'"))(Evaluate(f.Operand, scope), EvaluateArguments(f.Arguments, scope)),
        TestExpr t => (Tests.Find(t.Name) ?? throw Fail(t.Position, $"Unknown test '{t.Name}'"))(Evaluate(t.Operand, scope), EvaluateArguments(t.Arguments, scope)) != t.Negated,
        UnaryExpr u => Unary(u.Operator, Evaluate(u.Operand, scope)),
        BinaryExpr { Operator: "and" } b => Evaluate(b.Left, scope) is var l && !Values.IsTruthy(l) ? l : Evaluate(b.Right, scope),
        BinaryExpr { Operator: "or" } b => Evaluate(b.Left, scope) is var l && Values.IsTruthy(l) ? l : Evaluate(b.Right, scope),
        BinaryExpr b => Arithmetic.Apply(b.Operator, Evaluate(b.Left, scope), Evaluate(b.Right, scope)),
        ConditionalExpr c => Values.IsTruthy(Evaluate(c.Test, scope)) ? Evaluate(c.Then, scope) : c.Else is null ? Undefined.Instance : Evaluate(c.Else, scope),
        _ => throw new InvalidOperationException($"unhandled expression {expression.GetType().Name}"),
    };

    object? EvaluateOptional(Expr? expression, Scope scope) => expression is null ? null : Evaluate(expression, scope);

    object? Call(CallExpr call, Scope scope)
    {
        var callee = Evaluate(call.Callee, scope);
        if (callee is not Function function)
        {
            string what = call.Callee is NameExpr n ? $"'{n.Name}'" : call.Callee is AttributeExpr a ? $"'{a.Name}'" : "value";
            throw new TemplateRuntimeError(callee is Undefined ? $"{what} is undefined" : $"{what} is not callable");
        }
        return function(EvaluateArguments(call.Arguments, scope));
    }

    CallArguments EvaluateArguments(Arguments arguments, Scope scope) =>
        arguments.Positional.Count + arguments.Named.Count == 0
            ? CallArguments.Empty
            : new(arguments.Positional.Select(x => Evaluate(x, scope)).ToList(),
                arguments.Named.ToDictionary(x => x.Name, x => Evaluate(x.Value, scope)));

    static object? GetAttribute(object? target, string name, Expr targetExpr) => target switch
    {
        Undefined => throw new TemplateRuntimeError($"{Describe(targetExpr)} is undefined, so it has no attribute '{name}'"),
        null => throw new TemplateRuntimeError($"{Describe(targetExpr)} is None, so it has no attribute '{name}'"),
        OrderedDictionary<string, object?> d when d.TryGetValue(name, out var value) => value,
        Namespace ns => ns.Attributes.TryGetValue(name, out var value) ? value : Undefined.Instance,
        _ => (object?)Methods.Find(target, name) ?? Undefined.Instance,
    };

    static object? GetItem(object? target, object? key, Expr targetExpr)
    {
        switch (target, key)
        {
            case (Undefined, _):
                throw new TemplateRuntimeError($"{Describe(targetExpr)} is undefined, so it has no item {Values.Repr(key)}");
            case (null, _):
                throw new TemplateRuntimeError($"{Describe(targetExpr)} is None, so it has no item {Values.Repr(key)}");
            case (List<object?> list, long i):
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : Undefined.Instance;
            case (string s, long i):
                return GetItem(Text.CodePoints(s), i, targetExpr);
            case (string or OrderedDictionary<string, object?> or Namespace, string name):
                return GetAttribute(target, name, targetExpr);
            default:
                return Undefined.Instance;
        }
    }

    static object? Slice(object? target, object? start, object? stop, object? step)
    {
        long stepValue = step is null ? 1 : step as long? ?? throw new TemplateRuntimeError("slice step must be an integer");
        if (stepValue == 0) throw new TemplateRuntimeError("slice step cannot be zero");
        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => Text.CodePoints(s),
            _ => throw new TemplateRuntimeError($"'{Values.TypeName(target)}' object is not subscriptable"),
        };
        int n = items.Count;
        long Bound(object? value, long fallback)
        {
            if (value is null) return fallback;
            long i = value as long? ?? throw new TemplateRuntimeError("slice indices must be integers");
            if (i < 0) i += n;
            return stepValue > 0 ? Math.Clamp(i, 0, n) : Math.Clamp(i, -1, n - 1);
        }
        long from = Bound(start, stepValue > 0 ? 0 : n - 1), to = Bound(stop, stepValue > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = from; stepValue > 0 ? i < to : i > to; i += stepValue) result.Add(items[(int)i]);
        return target is string ? string.Concat(result) : result;
    }

    static object? Unary(string op, object? operand) => op switch
    {
        "not" => !Values.IsTruthy(operand),
        "-" => operand is long l ? (object)(-l) : -Values.ToDouble(operand),
        _ => operand is long or double ? operand : Values.ToDouble(operand),
    };

    static string Describe(Expr expression) => expression is NameExpr or AttributeExpr ? $"'{Path(expression)}'" : "the value";

    static string Path(Expr expression) => expression switch
    {
        NameExpr n => n.Name,
        AttributeExpr a => $"{Path(a.Target)}.{a.Name}",
        IndexExpr i => $"{Path(i.Target)}[...]",
        _ => "(...)",
    };

    static T Guard<T>(SourcePosition position, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(position, e.Message);
        }
    }

    static ChatTemplateException Fail(SourcePosition position, string message) => new($"{message} (at {position})");
}
