using Rollout.Bench.Peer;
using Rollout.Models;
using Rollout.Models.Generation;
using Rollout.Models.Loading;
using Rollout.TestSupport;

namespace Rollout.Bench.Tests.Peer;

/// <summary>A tiny peer-benchmark model written once, and llama.cpp serving it in its child process.</summary>
public sealed class TinyPeerFixture : IDisposable
{
    public TinyPeerFixture()
    {
        ModelPath = Path.Combine(TinyModels.TempFolder(), "tiny.gguf");
        // A seed whose greedy steps on the tests' prompts all have wide top-1/top-2 margins (the parity test checks).
        VocabSize = PeerModelFile.WriteTiny(ModelPath, seed: 6).VocabSize;
        Peer = LlamaCppPeer.Start(ModelPath, threads: 2, contextSize: 512, maxSequences: 4, timeout: TimeSpan.FromMinutes(2));
    }

    public string ModelPath { get; }
    public int VocabSize { get; }
    public LlamaCppPeer Peer { get; }

    public void Dispose() => Peer.Dispose();
}

public sealed class LlamaCppPeerTests(TinyPeerFixture tiny) : IClassFixture<TinyPeerFixture>
{
    const int NewTokens = 16;
    // Both engines compute in F32; logits of this model (up to ~300) differ by ~1e-4 between them.
    const float LogitTolerance = 0.01f;
    // Fifty times the tolerance: no greedy choice can flip on rounding.
    const float MinMargin = 0.5f;

    [Fact]
    public void Greedy_tokens_equal_rollouts_reference_generator()
    {
        var prompts = Prompts(count: 4, tiny.VocabSize);
        using var loaded = ModelLoader.Load(tiny.ModelPath);
        var reference = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: true);
        var sampling = new ReferenceSampling { Temperature = 0, MaxTokens = NewTokens };
        var expected = prompts.Select(p => reference.Generate(p, sampling).ToArray()).ToArray();

        for (int s = 0; s < prompts.Length; s++)
        {
            // Row prompt-1+i holds the logits that chose expected[s][i].
            int[] sequence = [.. prompts[s], .. expected[s][..^1]];
            var logits = reference.AllLogitsCached(sequence, [prompts[s].Length, .. Enumerable.Repeat(1, NewTokens - 1)]);
            for (int i = 0; i < NewTokens; i++)
            {
                var (top, margin) = TopAndMargin(logits, prompts[s].Length - 1 + i);
                Assert.Equal(expected[s][i], top);
                Assert.True(margin > MinMargin, $"sequence {s} step {i}: top-1/top-2 margin {margin} is too narrow to compare engines");
            }
        }

        var result = tiny.Peer.Run(new LlamaCppJob(PeerWorkload.Decode, prompts, NewTokens));

        Assert.Equal(NewTokens - 1, result.DecodeSteps);
        Assert.Equal(expected, result.Tokens);
    }

    [Fact]
    public void First_step_logits_equal_rollouts_within_rounding()
    {
        var prompts = Prompts(count: 2, tiny.VocabSize);
        using var loaded = ModelLoader.Load(tiny.ModelPath);
        var reference = new ReferenceGenerator((CausalLanguageModel)loaded.Model, useKvCache: false);

        var result = tiny.Peer.Run(new LlamaCppJob(PeerWorkload.Decode, prompts, NewTokens: 1) { FirstStepLogits = true });

        Assert.Equal(0, result.DecodeSteps);
        Assert.NotNull(result.FirstStepLogits);
        for (int s = 0; s < prompts.Length; s++)
        {
            var logits = reference.AllLogits(prompts[s]);
            int last = prompts[s].Length - 1;
            float worst = Enumerable.Range(0, tiny.VocabSize).Max(v => Math.Abs(logits[last, v] - result.FirstStepLogits[s][v]));
            Assert.True(worst < LogitTolerance, $"sequence {s}: logits differ by up to {worst}");
        }
    }

    [Fact]
    public void A_refused_job_is_reported_and_the_peer_keeps_serving()
    {
        var error = Assert.Throws<LlamaCppPeerException>(() =>
            tiny.Peer.Run(new LlamaCppJob(PeerWorkload.Decode, [[1, tiny.VocabSize]], NewTokens: 2)));
        Assert.Contains("outside the vocabulary", error.Message);

        var result = tiny.Peer.Run(new LlamaCppJob(PeerWorkload.Decode, [[1, 5, 9]], NewTokens: 2));

        Assert.Equal(2, result.Tokens.Single().Length);
    }

    [Fact]
    public void A_paused_peer_is_stopped_and_serves_again_once_resumed()
    {
        tiny.Peer.Pause();
        try
        {
            Assert.Equal('T', StateSoon(tiny.Peer.ProcessId, 'T'));
        }
        finally
        {
            tiny.Peer.Resume();
        }
        Assert.NotEqual('T', StateSoon(tiny.Peer.ProcessId, 'S'));

        var result = tiny.Peer.Run(new LlamaCppJob(PeerWorkload.Decode, [[1, 5, 9]], NewTokens: 2));

        Assert.Equal(2, result.Tokens.Single().Length);
    }

    // A signal takes effect asynchronously: wait up to a second for the state hoped for, then report the last seen.
    static char StateSoon(int pid, char hoped)
    {
        char state = ' ';
        for (int i = 0; i < 100 && state != hoped; i++, Thread.Sleep(10))
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            state = stat[stat.LastIndexOf(')') + 2];
        }
        return state;
    }

    static int[][] Prompts(int count, int vocabSize)
    {
        var random = new Random(11);
        return Enumerable.Range(0, count)
            .Select(s => Enumerable.Range(0, 5 + 3 * s).Select(_ => random.Next(3, vocabSize)).ToArray())
            .ToArray();
    }

    static (int Top, float Margin) TopAndMargin(float[,] logits, int row)
    {
        int top = 0;
        for (int v = 1; v < logits.GetLength(1); v++) if (logits[row, v] > logits[row, top]) top = v;
        float second = float.NegativeInfinity;
        for (int v = 0; v < logits.GetLength(1); v++) if (v != top) second = Math.Max(second, logits[row, v]);
        return (top, logits[row, top] - second);
    }
}
