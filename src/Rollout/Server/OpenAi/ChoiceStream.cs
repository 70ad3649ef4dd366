using Rollout.Engine;

namespace Rollout.Server.OpenAi;

/// <summary>
/// Turns a request's snapshots into OpenAI choices: the choice index of a completion (prompt x n
/// order), what each streamed chunk adds (tokens, text, logprobs since the last chunk), and the
/// text of a token for logprobs.
/// </summary>
internal sealed class ChoiceStream(EngineHost host, int n)
{
    readonly Dictionary<int, (int Tokens, int Chars, bool Finished)> _sent = [];
    readonly Dictionary<int, string> _tokenText = [];

    public int ChoiceIndex(int prompt, CompletionOutput completion) => prompt * n + completion.Index;

    /// <summary>
    /// What the next streamed chunk of a choice carries: tokens [From, To), its text starting at
    /// <c>TextOffset</c> of the choice's text, whether it is the choice's first chunk; null when the
    /// snapshot adds nothing (no token, no text, no end) since the last chunk.
    /// </summary>
    public (int From, int To, int TextOffset, bool First)? Next(int choice, CompletionOutput completion)
    {
        bool first = !_sent.TryGetValue(choice, out var sent);
        if (sent.Finished) return null;
        int to = completion.TokenIds.Count;
        if (to == sent.Tokens && completion.NewText.Length == 0 && !completion.Finished) return null;
        _sent[choice] = (to, sent.Chars + completion.NewText.Length, completion.Finished);
        return (sent.Tokens, to, sent.Chars, first);
    }

    /// <summary>The text of one token, as logprobs show it.</summary>
    public string TokenText(int id)
    {
        if (_tokenText.TryGetValue(id, out var text)) return text;
        text = host.Tokenizer is { } tokenizer && id < tokenizer.VocabSize ? tokenizer.Decode([id]) : $"<{id}>";
        _tokenText[id] = text;
        return text;
    }

    /// <summary>Legacy completions logprobs of tokens [from, to); null unless asked for.</summary>
    public CompletionLogprobs? CompletionLogprobs(CompletionOutput c, int from, int to, int textOffset)
    {
        if (c.Logprobs is null) return null;
        var tokens = new List<string>(to - from);
        var offsets = new List<int>(to - from);
        for (int i = from; i < to; i++)
        {
            offsets.Add(textOffset);
            string text = TokenText(c.TokenIds[i]);
            tokens.Add(text);
            textOffset += text.Length;
        }
        var top = c.TopLogprobs is null ? null
            : Enumerable.Range(from, to - from).Select(i => Alternatives(c.TopLogprobs[i])).ToList();
        return new CompletionLogprobs(tokens, Enumerable.Range(from, to - from).Select(i => c.Logprobs[i]).ToList(), top, offsets);
    }

    /// <summary>
    /// vLLM's <c>prompt_logprobs</c>: null for the first prompt token, then for each later one its own
    /// logprob and its alternatives', keyed by token id; null unless asked for.
    /// </summary>
    public IReadOnlyList<Dictionary<string, PromptTokenLogprob>?>? PromptLogprobs(RequestOutput request)
    {
        if (request.PromptLogprobs is not { } logprobs) return null;
        var result = new List<Dictionary<string, PromptTokenLogprob>?>(logprobs.Count + 1) { null };
        for (int i = 0; i < logprobs.Count; i++)
        {
            var position = new Dictionary<string, PromptTokenLogprob>();
            foreach (var t in request.PromptTopLogprobs?[i] ?? [])
                position[t.TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new(t.Logprob, TokenText(t.TokenId));
            position[logprobs[i].TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new(logprobs[i].Logprob, TokenText(logprobs[i].TokenId));
            result.Add(position);
        }
        return result;
    }

    /// <summary>Chat logprobs of tokens [from, to); null unless asked for.</summary>
    public ChatLogprobs? ChatLogprobs(CompletionOutput c, int from, int to)
    {
        if (c.Logprobs is null) return null;
        var content = new List<ChatTokenLogprob>(to - from);
        for (int i = from; i < to; i++)
        {
            string text = TokenText(c.TokenIds[i]);
            var top = c.TopLogprobs is null ? []
                : c.TopLogprobs[i].Select(t => new ChatTopLogprob(TokenText(t.TokenId), t.Logprob, Bytes(TokenText(t.TokenId)))).ToList();
            content.Add(new ChatTokenLogprob(text, c.Logprobs[i], Bytes(text), top));
        }
        return new ChatLogprobs(content);
    }

    Dictionary<string, float> Alternatives(IReadOnlyList<Engine.Sampling.TokenLogprob> top)
    {
        var result = new Dictionary<string, float>();
        foreach (var t in top) result.TryAdd(TokenText(t.TokenId), t.Logprob);
        return result;
    }

    static int[] Bytes(string text) => Array.ConvertAll(System.Text.Encoding.UTF8.GetBytes(text), b => (int)b);
}
