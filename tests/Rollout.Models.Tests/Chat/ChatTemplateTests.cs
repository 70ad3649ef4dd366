using System.Text.Json;
using Rollout.Models.Chat;

namespace Rollout.Models.Tests.Chat;

/// <summary>The Jinja interpreter behind <see cref="ChatTemplate"/>, without node: Python Jinja's results.</summary>
public sealed class ChatTemplateTests
{
    static readonly ChatMessage[] Conversation = [new("system", "sys"), new("user", "Hi there"), new("assistant", "Hello")];

    static string Render(string template, ChatTemplateOptions? options = null) =>
        ChatTemplate.Parse(template).Render(Conversation, options);

    [Theory]
    [InlineData("{{ 'a' ~ 1 ~ none }}", "a1None")]
    [InlineData("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 7 / 2 }} {{ -3 // 2 }}", "7 3 1 8 3.5 -2")]
    [InlineData("{{ 1.0 }} {{ 1 == 1.0 }} {{ true }} {{ [1, 'a'] }} {{ {'k': none} }}", "1.0 True True [1, 'a'] {'k': None}")]
    [InlineData("{{ 'yes' if 1 < 2 else 'no' }}{{ 'x' if false }}", "yes")]
    [InlineData("{{ not false and (none or 'z') }}", "z")]
    [InlineData("{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'x' in undefined_thing }}", "True False True False")]
    [InlineData("{{ 'abcdef'[1:3] }} {{ 'abcdef'[::-1] }} {{ [1, 2, 3][-1] }} {{ [1, 2, 3, 4][::2] }} {{ 'héllo'[1] }}", "bc fedcba 3 [1, 3] é")]
    [InlineData("{{ messages[0].role }} {{ messages[1]['content'] }} {{ messages | length }} {{ messages[9] is defined }}", "system Hi there 3 False")]
    [InlineData("{{ x is defined }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 1 is number }} {{ false is false }} {{ 1 is not string }}", "False True True True True True True True")]
    [InlineData("{{ '  a b  ' | trim }}|{{ 'Ab' | upper }}|{{ 'Ab' | lower }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}", "a b|AB|ab|Hello World|Hello")]
    [InlineData("{{ ['a', 'b'] | join(', ') }} {{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ [3, 1, 2] | sort | list }} {{ [1, 2] | reverse | list }}", "a, b 3 2 [1, 2, 3] [2, 1]")]
    [InlineData("{{ undefined_thing | default('d') }} {{ '' | default('d', true) }} {{ 'v' | default('d') }}", "d d v")]
    [InlineData("{{ 'a-b-c' | replace('-', '+') }} {{ 'x' | string }} {{ '42' | int + 1 }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ ['A', 'a', 'b'] | unique | list }}", "a+b+c x 43 2.57 3.0 ['A', 'b']")]
    [InlineData("{{ {'b': 1, 'a': 2} | dictsort }} {{ {'a': 1} | items | list }}", "[['a', 2], ['b', 1]] [['a', 1]]")]
    [InlineData("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ messages | rejectattr('role', 'in', ['user', 'system']) | map(attribute='role') | join }}", "['Hi there'] assistant")]
    [InlineData("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'x\ny' | indent(2, true) }}", "a\n  b\n\n  c|  x\n  y")]
    [InlineData("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }}", "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c']")]
    [InlineData("{{ '\n\nx \n'.strip('\n') }}|{{ 'xxhixx'.lstrip('x') }}|{{ 'hi  '.rstrip() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}", "x |hixx|hi|True|True")]
    [InlineData("{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b', 'no') }} {{ {'a': 1}.keys() | list }} {{ {'a': 1}.items() | list }}", "1 no ['a'] [['a', 1]]")]
    [InlineData("{{ {'name': 'f', 'args': {'x': [1, 2.5, true, none]}} | tojson }}", "{\"name\": \"f\", \"args\": {\"x\": [1, 2.5, true, null]}}")]
    [InlineData("{{ {'a': [1], 'b': {}} | tojson(indent=2) }}", "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}")]
    [InlineData("{{ 'é \"q\" \\\\ \n' | tojson }} {{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", "\"é \\\"q\\\" \\\\ \\n\" {\"a\": 2, \"b\": 1}")]
    public void Expressions_and_filters_follow_python_jinja(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{% for m in messages %}{{ loop.index0 }}{{ loop.index }}{{ loop.length }}{{ loop.first }}{{ loop.last }};{% endfor %}", "013TrueFalse;123FalseFalse;233FalseTrue;")]
    [InlineData("{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {% endfor %}", "->user system>assistant user>- ")]
    [InlineData("{% for x in [] %}x{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m.role }} {% endfor %}", "1user 2assistant ")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", "13")]
    [InlineData("{% set x = 1 %}{% for m in messages %}{% set x = 2 %}{% endfor %}{{ x }}", "1")]
    [InlineData("{% set ns = namespace(n=0, found=false) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }} {{ ns.found }}", "3 False")]
    [InlineData("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set block %}in{{ a }}{% endset %} {{ block }}", "12 in1")]
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Al') }} {{ greet('Bo', punct='?') }}", "Hi Al! Hi Bo?")]
    [InlineData("{% if false %}a{% elif none %}b{% elif 1 %}c{% else %}d{% endif %}", "c")]
    [InlineData("{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ dict(a=1) }}", "[0, 1, 2] [1, 3, 5] {'a': 1}")]
    public void Statements_follow_python_jinja(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before it.
    [InlineData("{% if true %}\n  x\n{% endif %}\n", "  x\n")]
    [InlineData("a\n    {% if true %}\n    b\n    {% endif %}\nc", "a\n    b\nc")]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "abc")]
    [InlineData("a\n  {{- 'b' -}}\n  c", "abc")]
    [InlineData("a {# comment #}\nb {#- trimmed -#} c", "a bc")]
    [InlineData("{{ 'x' }}\n", "x")]
    [InlineData("{{ 'x' }}\n\n", "x\n")]
    [InlineData("  {{ 'kept' }}\n{{ 'too' }}", "  kept\ntoo")]
    public void Whitespace_control_matches_huggingface(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Variables_tools_tokens_and_date_reach_the_template()
    {
        var tool = JsonDocument.Parse("""{"type": "function", "function": {"name": "f", "parameters": {}}}""").RootElement;
        var options = new ChatTemplateOptions
        {
            AddGenerationPrompt = true,
            Tools = [tool],
            BosToken = "<s>",
            EosToken = "</s>",
            Date = new DateTime(2024, 7, 26),
            Variables = new Dictionary<string, object?> { ["enable_thinking"] = false, ["n"] = 3, ["j"] = JsonDocument.Parse("[1]").RootElement },
        };
        string result = Render("{{ bos_token }}{{ eos_token }} {{ add_generation_prompt }} {{ tools[0].function.name }} {{ enable_thinking is false }} {{ n + j[0] }} {{ strftime_now('%d %b %Y / %B %m') }}", options);
        Assert.Equal("<s></s> True f True 4 26 Jul 2024 / July 07", result);
    }

    [Fact]
    public void Messages_carry_tool_calls_and_optional_fields_only_when_set()
    {
        var messages = new[]
        {
            new ChatMessage("assistant", "")
            {
                ToolCalls = [new ToolCall("f", JsonDocument.Parse("""{"x": 1}""").RootElement, "id1"), new ToolCall("g", """{"y": 2}""")],
                ReasoningContent = "why",
            },
            new ChatMessage("tool", "r") { ToolCallId = "id1", Name = "f" },
        };
        const string template = "{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.id | default('-') }}:{{ c.type }}:{{ c.function.name }}:{{ c.function.arguments is string }}:{{ c.function.arguments | tojson }};{% endfor %}{{ m.reasoning_content is defined }} {{ m.tool_call_id | default('-') }} {{ m.name | default('-') }}|{% endfor %}";
        Assert.Equal("id1:function:f:False:{\"x\": 1};-:function:g:True:\"{\\\"y\\\": 2}\";True - -|False id1 f|",
            ChatTemplate.Parse(template).Render(messages));
    }

    [Theory]
    [InlineData("{% if x %}", "Unclosed 'if' (opened at line 1, column 4): expected elif or else or endif at line 1")]
    [InlineData("a\nb {{ 1 + }}", "Unexpected '}}' in expression at line 2, column 10")]
    [InlineData("{% endfor %}", "Unexpected 'endfor' with no open block")]
    [InlineData("{% frobnicate %}", "Unknown tag 'frobnicate' at line 1, column 4")]
    [InlineData("{{ 'abc }}", "Unterminated string starting at line 1, column 4")]
    [InlineData("{{ x", "Unclosed tag starting at line 1, column 1")]
    [InlineData("{{ 1 $ 2 }}", "Unexpected character '$' at line 1, column 6")]
    public void Syntax_errors_name_the_line_and_column(string template, string message)
    {
        var error = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template));
        Assert.StartsWith(message, error.Message);
    }

    [Theory]
    [InlineData("{{ 'x' | frobnicate }}", "Unknown filter 'frobnicate' (at line 1, column 8)")]
    [InlineData("\n{{ 1 is frobnicated }}", "Unknown test 'frobnicated' (at line 2, column 6)")]
    [InlineData("{{ 'a' + 1 }}", "unsupported operand type(s) for +: 'str' and 'int'")]
    [InlineData("{{ missing.attr }}", "'missing' is undefined, so it has no attribute 'attr'")]
    [InlineData("{{ nothing() }}", "'nothing' is undefined")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "cannot assign an attribute of something that is not a namespace()")]
    public void Render_errors_say_what_and_where(string template, string message)
    {
        var error = Assert.Throws<ChatTemplateException>(() => Render(template));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Raise_exception_surfaces_the_template_message()
    {
        var template = ChatTemplate.Parse("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with a user message.') }}{% endif %}");
        var error = Assert.Throws<ChatTemplateException>(() => template.Render(Conversation));
        Assert.Equal("Conversation must start with a user message.", error.Message);
    }

    [Fact]
    public void A_parsed_template_renders_concurrently()
    {
        var template = ChatTemplate.Parse("{% set ns = namespace(s='') %}{% for m in messages %}{% set ns.s = ns.s ~ m.content %}{% endfor %}{{ ns.s }}");
        var results = Enumerable.Range(0, 64).AsParallel()
            .Select(i => template.Render([new ChatMessage("user", $"m{i}"), new ChatMessage("assistant", "!")]))
            .ToList();
        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"m{i}!"), results);
    }
}
