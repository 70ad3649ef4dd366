using Rollout.Engine.Sampling;
using Rollout.Engine.Tests.Core;
using Rollout.Engine.Tests.Scoring;
using Rollout.Models;

namespace Rollout.Engine.Tests.Sampling;

/// <summary>
/// <see cref="SamplingParams.ReturnSupport"/> on a tiny model: every reported support equals the tokens a
/// reference keeps (finite processed logprob, recomputed from one uncached forward), and asking changes no draw.
/// </summary>
public class SamplingSupportTests
{
    const string Arch = "LlamaForCausalLM";
    static readonly int[] Prompt = [17, 300, 42, 5, 99, 123, 7, 256];

    static readonly SamplingParams[] Filters =
    [
        new() { TopK = 20 },
        new() { TopP = 0.8f },
        new() { MinP = 0.5f },
        new()
        {
            Temperature = 0.7f, TopK = 60, TopP = 0.9f, MinP = 0.05f, RepetitionPenalty = 1.3f, PresencePenalty = 0.5f,
            LogitBias = new Dictionary<int, float> { [42] = 3f, [5] = -2f }, MinTokens = 3,
        },
    ];

    static CausalLanguageModel Model => (CausalLanguageModel)TinyEngine.Model(Arch).Model;

    static LlmEngine Engine() => LlmEngine.Create(TinyEngine.Model(Arch), new EngineOptions { KvCacheBytes = 8 << 20, BlockSize = 8 });

    static SamplingParams Asking(SamplingParams filters, SamplingSupport support) =>
        filters with { ReturnSupport = support, N = 2, Seed = 7, MaxTokens = 16 };

    /// <summary>The ids a reference keeps for the token at <paramref name="position"/> of <paramref name="completion"/>.</summary>
    static int[][] ReferenceSupports(SamplingParams sampling, int sampleIndex, IReadOnlyList<int> completion)
    {
        int[] tokens = [.. completion];
        var logits = ScoreReference.LogitsBeforeCompletion(Model, Prompt, tokens);
        return Enumerable.Range(0, tokens.Length).Select(j =>
        {
            var row = new SamplingRow(sampling, Prompt, tokens[..j], sampleIndex, TinyEngine.Model(Arch).StopTokenIds.ToArray());
            var logprobs = SamplerReference.ProcessedLogprobs(logits[j], row);
            return Enumerable.Range(0, logprobs.Length).Where(id => double.IsFinite(logprobs[id])).ToArray();
        }).ToArray();
    }

    [Theory]
    [InlineData(0)] // top-k only
    [InlineData(1)] // top-p only
    [InlineData(2)] // min-p only
    [InlineData(3)] // all three, after temperature, penalties, logit bias and min-tokens masking
    public async Task Each_token_is_drawn_from_exactly_the_tokens_the_processed_distribution_keeps(int filters)
    {
        using var engine = Engine();
        var sampling = Asking(Filters[filters], SamplingSupport.Ids);
        var output = await engine.AddRequest(Prompt, sampling).CompletionAsync();

        int vocab = engine.Model.Config.VocabSize;
        foreach (var completion in output.Outputs)
        {
            var ids = completion.SupportIds!;
            var sizes = completion.SupportSizes!;
            Assert.Equal(completion.TokenIds.Count, ids.Count);
            Assert.Equal(completion.TokenIds.Count, sizes.Count);
            var expected = ReferenceSupports(sampling, completion.Index, completion.TokenIds);
            for (int j = 0; j < expected.Length; j++)
            {
                Assert.Equal(expected[j], ids[j]);
                Assert.Contains(completion.TokenIds[j], ids[j]);
                Assert.Equal(ids[j].Count, sizes[j]);
            }
            // Otherwise the filters kept everything and the comparison proves little.
            Assert.Contains(sizes, size => size > 1 && size < vocab);
        }
    }

    [Fact]
    public async Task A_greedy_draw_has_the_chosen_token_alone_as_its_support()
    {
        using var engine = Engine();
        var sampling = Asking(Filters[3] with { Temperature = 0 }, SamplingSupport.Ids);
        var output = (await engine.AddRequest(Prompt, sampling).CompletionAsync()).Outputs[0];

        Assert.NotEmpty(output.TokenIds);
        Assert.Equal(output.TokenIds.Select(id => new[] { id }), output.SupportIds!);
        Assert.All(output.SupportSizes!, size => Assert.Equal(1, size));
    }

    [Fact]
    public async Task Asking_for_the_support_changes_no_token_and_requests_that_do_not_ask_report_none()
    {
        using var engine = Engine();
        // In one batch, so the sampler serves rows that ask for nothing, sizes and ids at once.
        var runs = new[] { SamplingSupport.None, SamplingSupport.Size, SamplingSupport.Ids }
            .Select(support => engine.AddRequest(Prompt, Asking(Filters[3], support)).CompletionAsync()).ToArray();
        var (none, size, ids) = (await runs[0], await runs[1], await runs[2]);

        for (int c = 0; c < 2; c++)
        {
            Assert.Equal(none.Outputs[c].TokenIds, ids.Outputs[c].TokenIds);
            Assert.Equal(none.Outputs[c].TokenIds, size.Outputs[c].TokenIds);
            Assert.Null(none.Outputs[c].SupportSizes);
            Assert.Null(none.Outputs[c].SupportIds);
            Assert.Null(size.Outputs[c].SupportIds);
            Assert.Equal(ids.Outputs[c].SupportIds!.Select(s => s.Count), size.Outputs[c].SupportSizes!);
        }
    }

    [Fact]
    public void An_undefined_value_is_refused_by_name()
    {
        var e = Assert.Throws<InvalidSamplingParametersException>(() => new SamplingParams { ReturnSupport = (SamplingSupport)3 }.Validate(100));
        Assert.Equal("return_support", e.ParameterName);
    }
}
