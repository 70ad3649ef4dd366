using System.Text.Json;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models.Loading;

namespace Rollout.Tests.Server;

/// <summary>
/// What the server answers is what an <see cref="LlmEngine"/> over the same model directory generates
/// in-process: the HTTP layer adds no tokens, drops none and changes no logprob.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class EngineParityTests(ServerFixture fixture) : IDisposable
{
    // The server owns its model; the reference engine needs a load of its own.
    readonly LoadedModel _model = ModelLoader.Load(ServerFixture.ModelDirectory);
    LlmEngine? _engine;

    LlmEngine Engine => _engine ??= LlmEngine.Create(_model, new EngineOptions { KvCacheBytes = 8 << 20 });

    public void Dispose()
    {
        _engine?.Dispose();
        _model.Dispose();
    }

    [Theory]
    [InlineData("Once upon a time")]
    [InlineData("The quick brown fox")]
    [InlineData("a")]
    public async Task GreedyCompletionIsTheEngines(string prompt)
    {
        var response = await fixture.User.PostOkAsync("/v1/completions", new { prompt, max_tokens = 20, temperature = 0, return_token_ids = true });
        var reference = await Final(Engine.GenerateAsync(prompt, new SamplingParams { Temperature = 0, MaxTokens = 20 }));

        var choice = response.GetProperty("choices")[0];
        Assert.Equal(reference.PromptTokenIds, Ints(choice.GetProperty("prompt_token_ids")));
        Assert.Equal(reference.Outputs[0].TokenIds, Ints(choice.GetProperty("token_ids")));
        Assert.Equal(reference.Outputs[0].Text, choice.GetProperty("text").GetString());
        Assert.Equal(reference.Outputs[0].FinishReason, choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task RlGenerateLogprobsAreTheEngines()
    {
        int[][] prompts = [[17, 300, 42, 5, 99, 123], [256, 3, 8]];
        var sampling = new SamplingParams { Temperature = 1, Seed = 11, Logprobs = 0, MaxTokens = 12, N = 2, IgnoreEos = true };

        var response = await fixture.User.PostOkAsync("/rl/generate", new
        {
            prompts, sampling = new { temperature = 1, seed = 11, logprobs = 0, max_tokens = 12, n = 2, ignore_eos = true },
        });
        var reference = await Task.WhenAll(prompts.Select(p => Engine.AddRequest(p, sampling).CompletionAsync()));

        var results = response.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(prompts.Length, results.Length);
        for (int p = 0; p < prompts.Length; p++)
        {
            var completions = results[p].GetProperty("completions").EnumerateArray().ToArray();
            Assert.Equal(2, completions.Length);
            foreach (var expected in reference[p].Outputs)
            {
                var actual = completions[expected.Index];
                Assert.Equal(expected.Index, actual.GetProperty("index").GetInt32());
                Assert.Equal(expected.TokenIds, Ints(actual.GetProperty("token_ids")));
                Assert.Equal(expected.WeightVersions, actual.GetProperty("weight_versions").EnumerateArray().Select(v => v.GetInt64()));
                Assert.Equal(expected.FinishReason, actual.GetProperty("finish_reason").GetString());
                var logprobs = actual.GetProperty("logprobs").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                Assert.Equal(expected.Logprobs!.Count, logprobs.Length);
                // Batches of other shapes may round differently in the last bits; the tokens above are exact.
                for (int i = 0; i < logprobs.Length; i++) Assert.Equal(expected.Logprobs[i], logprobs[i], 1e-4f);
                Assert.Equal(JsonValueKind.Null, actual.GetProperty("top_logprobs").ValueKind);
            }
        }
    }

    static int[] Ints(JsonElement array) => array.EnumerateArray().Select(t => t.GetInt32()).ToArray();

    static async Task<RequestOutput> Final(IAsyncEnumerable<RequestOutput> outputs)
    {
        RequestOutput? last = null;
        await foreach (var output in outputs) last = output;
        return last!;
    }
}
