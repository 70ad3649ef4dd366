using Rollout.Models.Chat;
using Rollout.Models.Tokenization;

namespace Rollout.Client;

/// <summary>
/// A multi-turn conversation kept as token ids, so that what the policy trains on is exactly what it was
/// given and what it generated. It starts from chat messages rendered through the model's chat template,
/// ending with the generation prompt; a generated completion is appended as its ids, never re-tokenised;
/// a new user or tool turn is appended by rendering only that turn's template text and tokenising only it.
/// Turns alternate: a completion, then messages, then a completion, and so on.
/// </summary>
/// <remarks>
/// A turn's text is what the template adds when the turn follows a short placeholder conversation, so a
/// template that renders earlier turns differently once more follow (Qwen3 drops old reasoning, say) never
/// rewrites tokens already in the conversation. After a completion, the text the template closes an
/// assistant turn with (<c>&lt;|im_end|&gt;\n</c> for Qwen) comes first, less the end-of-turn token the
/// completion already ends with.
/// </remarks>
public sealed class Conversation
{
    const string ContentMarker = "ROLLOUT_ASSISTANT_CONTENT";

    // A user/tool turn is rendered after one of these, the first the template accepts (some templates insist that roles alternate).
    static readonly ChatMessage[][] Placeholders =
    [
        [new ChatMessage("system", "S"), new ChatMessage("user", "U")],
        [new ChatMessage("user", "U"), new ChatMessage("assistant", "A")],
    ];

    readonly ChatTemplate _template;
    readonly ITextTokenizer _tokenizer;
    readonly ChatTemplateOptions _options;
    readonly List<int> _tokenIds = [];
    readonly List<bool> _isGenerated = [];
    bool _awaitingCompletion;

    /// <summary>Renders <paramref name="messages"/> with the generation prompt and tokenises them.</summary>
    /// <param name="template">The model's chat template.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="messages">The conversation so far (system, user, ...).</param>
    /// <param name="options">Tools, BOS/EOS texts and template variables (<c>enable_thinking</c>, ...); the generation prompt is always added.</param>
    /// <exception cref="ChatTemplateException">The template rejects the messages.</exception>
    public Conversation(ChatTemplate template, ITextTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(messages);
        (_template, _tokenizer, _options) = (template, tokenizer, options ?? new ChatTemplateOptions());
        Append(_tokenizer.Encode(Render(messages, generationPrompt: true), addSpecialTokens: false), generated: false);
        _awaitingCompletion = true;
    }

    /// <summary>The whole conversation's token ids: the prompt of the next generation once it ends with the generation prompt.</summary>
    public IReadOnlyList<int> TokenIds => _tokenIds;

    /// <summary>For each token, whether the model generated it (it came in a completion): the tokens a policy-gradient loss counts.</summary>
    public IReadOnlyList<bool> IsGenerated => _isGenerated;

    /// <summary>Appends a generated completion's token ids as they are.</summary>
    /// <exception cref="InvalidOperationException">The conversation does not end with a generation prompt (a completion was just appended).</exception>
    public void AppendCompletion(IReadOnlyList<int> completionTokenIds)
    {
        ArgumentNullException.ThrowIfNull(completionTokenIds);
        if (!_awaitingCompletion) throw new InvalidOperationException("a completion was just appended: append the next user or tool messages first");
        Append(completionTokenIds, generated: true);
        _awaitingCompletion = false;
    }

    /// <summary>
    /// Closes the assistant turn the last completion began, then appends <paramref name="messages"/> (user or tool
    /// turns; consecutive tool results go together, as the template groups them) and the generation prompt.
    /// </summary>
    /// <exception cref="InvalidOperationException">No completion was appended since the last turn, or the template cannot render a turn on its own.</exception>
    /// <exception cref="ChatTemplateException">The template rejects the messages.</exception>
    public void AppendMessages(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("there are no messages to append", nameof(messages));
        if (_awaitingCompletion) throw new InvalidOperationException("the conversation waits for a completion: append the generated ids first");
        string text = TurnEnd() + TurnText(messages);
        Append(_tokenizer.Encode(text, addSpecialTokens: false), generated: false);
        _awaitingCompletion = true;
    }

    /// <summary>What the template writes after an assistant turn's content that the last completion did not generate.</summary>
    string TurnEnd()
    {
        string rendered = Render([.. Placeholders[0], new ChatMessage("assistant", ContentMarker)], generationPrompt: false);
        int marker = rendered.LastIndexOf(ContentMarker, StringComparison.Ordinal);
        if (marker < 0) throw new InvalidOperationException("the chat template does not write an assistant message's content: the end of a turn cannot be found");
        string end = rendered[(marker + ContentMarker.Length)..];
        int last = _tokenIds[^1];
        string? lastText = _tokenizer.EosTokenIds.Contains(last) ? _tokenizer.SpecialTokenText(last) : null;
        return lastText is not null && end.StartsWith(lastText, StringComparison.Ordinal) ? end[lastText.Length..] : end;
    }

    /// <summary>The text <paramref name="messages"/> add after a placeholder conversation, with the generation prompt.</summary>
    string TurnText(IReadOnlyList<ChatMessage> messages)
    {
        ChatTemplateException? refused = null;
        bool rendered = false;
        foreach (var placeholder in Placeholders)
        {
            string before, after;
            try
            {
                before = Render(placeholder, generationPrompt: false);
                after = Render([.. placeholder, .. messages], generationPrompt: true);
            }
            catch (ChatTemplateException e)
            {
                refused = e;
                continue;
            }
            if (after.StartsWith(before, StringComparison.Ordinal)) return after[before.Length..];
            rendered = true;
        }
        if (!rendered && refused is not null) throw refused;
        throw new InvalidOperationException("the chat template renders earlier turns differently once a turn follows: it cannot append a turn on its own");
    }

    string Render(IReadOnlyList<ChatMessage> messages, bool generationPrompt) =>
        _template.Render(messages, _options with { AddGenerationPrompt = generationPrompt });

    void Append(IReadOnlyList<int> ids, bool generated)
    {
        _tokenIds.AddRange(ids);
        _isGenerated.AddRange(Enumerable.Repeat(generated, ids.Count));
    }
}
