using Rollout.Engine.Core;
using Rollout.Engine.Sampling;
using Rollout.Engine.Tests.Core;
using Rollout.Engine.Tests.Sampling;
using Rollout.Models;
using Rollout.Models.Loading;
using Rollout.Models.Testing;
using Rollout.TestSupport;
using TorchSharp;

namespace Rollout.Engine.Tests.Scoring;

/// <summary><see cref="LlmEngine.ScoreAsync"/>: a prefill-only request whose logprobs equal a full forward's.</summary>
public class ScoreTests
{
    const string Arch = "LlamaForCausalLM";
    const double Tolerance = 1e-5;

    static CausalLanguageModel Model => (CausalLanguageModel)TinyEngine.Model(Arch).Model;

    static LlmEngine Engine(int budget = 2048) =>
        LlmEngine.Create(TinyEngine.Model(Arch), new EngineOptions { KvCacheBytes = 8 << 20, BlockSize = 8, MaxNumBatchedTokens = budget });

    static int[] Tokens(int count, int seed) => Enumerable.Range(0, count).Select(i => (i * 37 + seed * 11 + 5) % 500 + 1).ToArray();

    [Theory]
    [InlineData(16, 40, 30)] // chunks of 16: the scored rows start inside one chunk and span several
    [InlineData(2048, 12, 300)] // one chunk with more rows than one slice of logits
    public async Task Raw_scores_equal_log_softmax_of_a_full_forward_and_a_second_score_hits_the_prefix_cache(int budget, int promptLength, int completionLength)
    {
        using var engine = Engine(budget);
        int[] prompt = Tokens(promptLength, 1), completion = Tokens(completionLength, 2);
        var expected = ScoreReference.Logprobs(Model, prompt, completion);

        var first = await engine.ScoreAsync(prompt, completion);
        await engine.RunAtStepBoundaryAsync(_ => 0);
        Assert.Equal(0, engine.Metrics.PrefixCacheHitRate);
        var second = await engine.ScoreAsync(prompt, completion);
        await engine.RunAtStepBoundaryAsync(_ => 0);

        ScoreReference.Close(expected, first.Logprobs, Tolerance);
        ScoreReference.Close(expected, second.Logprobs, Tolerance);
        Assert.Equal(0, first.WeightVersion);
        Assert.True(engine.Metrics.PrefixCacheHitRate > 0, "the second score found none of the first's blocks");
        Assert.Equal(0, engine.Metrics.GeneratedTokens);
        Assert.Equal(0, engine.Metrics.KvCacheUsage);
    }

    [Fact]
    public async Task Scores_batched_with_generation_leave_both_as_they_are_alone()
    {
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 12, IgnoreEos = true };
        int[] generatePrompt = Tokens(20, 3), prompt = Tokens(24, 4), completion = Tokens(40, 5);
        IReadOnlyList<int> alone;
        using (var engine = Engine(budget: 32))
            alone = (await engine.AddRequest(generatePrompt, greedy).CompletionAsync()).Outputs[0].TokenIds;

        using (var engine = Engine(budget: 32))
        {
            var generation = engine.AddRequest(generatePrompt, greedy).CompletionAsync();
            var scores = Enumerable.Range(0, 3).Select(_ => engine.ScoreAsync(prompt, completion)).ToArray();
            Assert.Equal(alone, (await generation).Outputs[0].TokenIds);
            var expected = ScoreReference.Logprobs(Model, prompt, completion);
            foreach (var score in await Task.WhenAll(scores)) ScoreReference.Close(expected, score.Logprobs, Tolerance);
        }
    }

    [Fact]
    public async Task Processed_scores_equal_the_processed_logprobs_the_sampler_reported_for_the_same_tokens()
    {
        using var engine = Engine();
        var sampling = new SamplingParams
        {
            Temperature = 0.8f, TopK = 40, RepetitionPenalty = 1.2f, PresencePenalty = 0.5f, Seed = 11,
            MaxTokens = 24, IgnoreEos = true, Logprobs = 0, LogprobsMode = LogprobsMode.Processed,
        };
        int[] prompt = Tokens(12, 6);
        var generated = (await engine.AddRequest(prompt, sampling).CompletionAsync()).Outputs[0];

        var scored = await engine.ScoreAsync(prompt, generated.TokenIds, LogprobsMode.Processed, sampling);

        ScoreReference.Close(generated.Logprobs!.ToArray(), scored.Logprobs, 1e-4);
    }

    [Fact]
    public async Task Processed_scores_of_tokens_the_filters_drop_are_negative_infinity()
    {
        using var engine = Engine();
        var processing = new SamplingParams { Temperature = 0.7f, TopK = 5, FrequencyPenalty = 0.3f };
        int[] prompt = Tokens(9, 7), completion = Tokens(20, 8);
        var logits = ScoreReference.LogitsBeforeCompletion(Model, prompt, completion);
        var expected = completion.Select((token, j) => (float)SamplerReference.ProcessedLogprobs(logits[j],
            new SamplingRow(processing, prompt, completion[..j], 0, TinyEngine.Model(Arch).StopTokenIds))[token]).ToArray();
        Assert.Contains(expected, float.IsNegativeInfinity);

        var scored = await engine.ScoreAsync(prompt, completion, LogprobsMode.Processed, processing);

        ScoreReference.Close(expected, scored.Logprobs, 1e-4);
    }

    [Fact]
    public async Task A_weight_update_between_chunks_has_the_whole_sequence_scored_under_the_new_version()
    {
        using var a = ModelLoader.Load(TinyModels.Directory(Arch, new TinyModelOptions { Seed = 1234 }));
        using var b = ModelLoader.Load(TinyModels.Directory(Arch, new TinyModelOptions { Seed = 4321 }));
        using var core = new EngineCore(a.Model, a.Tokenizer, a.StopTokenIds, new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8, MaxNumBatchedTokens = 16 });
        int[] prompt = Tokens(20, 9), completion = Tokens(20, 10);
        var request = core.CreateScoring("s", prompt, completion, LogprobsMode.Raw, null);
        core.Add(request);
        core.Step();
        core.Step();
        Assert.False(request.Task.IsCompleted);
        using (torch.no_grad())
        {
            var source = b.Model.Parameters();
            foreach (var (name, parameter) in a.Model.Parameters()) parameter.copy_(source[name]);
        }
        core.WeightVersion = 1;
        while (core.HasUnfinished) core.Step();

        var result = await request.Task;
        Assert.Equal(1, result.WeightVersion);
        ScoreReference.Close(ScoreReference.Logprobs((CausalLanguageModel)b.Model, prompt, completion), result.Logprobs, Tolerance);
    }

    [Fact]
    public void Cancelling_a_running_score_frees_its_blocks_and_cancels_its_task()
    {
        using var core = TinyEngine.Core(Arch, new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8, MaxNumBatchedTokens = 16 });
        var request = core.CreateScoring("s", Tokens(30, 11), Tokens(30, 12), LogprobsMode.Raw, null);
        core.Add(request);
        core.Step();
        Assert.True(core.Metrics().KvCacheUsage > 0);

        core.Cancel(request);

        Assert.True(request.Task.IsCanceled);
        Assert.False(core.HasUnfinished);
        Assert.Equal(0, core.Metrics().KvCacheUsage);
    }

    [Fact]
    public async Task Cancelling_through_the_token_ends_the_task_as_cancelled()
    {
        using var engine = Engine(budget: 16);
        await engine.PauseAsync();
        using var cancel = new CancellationTokenSource();
        var score = engine.ScoreAsync(Tokens(30, 13), Tokens(30, 14), cancellationToken: cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => score);
        engine.Resume();
        await engine.RunAtStepBoundaryAsync(_ => 0);
        Assert.Equal(0, engine.Metrics.KvCacheUsage);
    }

    [Fact]
    public async Task Bad_input_is_refused_before_anything_is_queued()
    {
        using var engine = Engine();
        int vocab = engine.Model.Config.VocabSize;
        var outside = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => engine.ScoreAsync([1, 2], [3, vocab]));
        Assert.Contains("completion token 1", outside.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => engine.ScoreAsync([-1], [3]));
        await Assert.ThrowsAsync<ArgumentException>(() => engine.ScoreAsync([], [3]));
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(() => engine.ScoreAsync(Tokens(engine.MaxModelLength - 3, 1), Tokens(4, 2)));
        Assert.Contains("context", tooLong.Message);
        await Assert.ThrowsAsync<InvalidSamplingParametersException>(() => engine.ScoreAsync([1], [2], LogprobsMode.Processed, new SamplingParams { TopP = 0 }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => engine.RewardAsync([1, 2]));

        var empty = await engine.ScoreAsync([1, 2], []);
        Assert.Empty(empty.Logprobs);
        await engine.RunAtStepBoundaryAsync(_ => 0);
        Assert.Equal(0, engine.Metrics.Steps);
    }
}
