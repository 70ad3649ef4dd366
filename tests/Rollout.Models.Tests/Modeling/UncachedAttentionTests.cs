using Rollout.Models.Attention;
using Rollout.Models.Loading;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Modeling;

/// <summary>A packed batch gives every sequence what it gets alone, whether its neighbours share its length or not.</summary>
public class UncachedAttentionTests
{
    [Fact]
    public void Packed_sequences_equal_and_unequal_in_length_each_get_what_they_get_alone()
    {
        using var loaded = ModelLoader.Load(TinyModels.Directory("Qwen3ForCausalLM"));
        var model = (CausalLanguageModel)loaded.Model;
        var random = new Random(11);
        // Runs of equal lengths (attended as one batch) between lengths of their own.
        int[] lengths = [5, 5, 5, 3, 7, 7, 1, 1];
        var sequences = lengths.Select(l => Enumerable.Range(0, l).Select(_ => (long)random.Next(model.Config.VocabSize)).ToArray()).ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        var ids = tensor(sequences.SelectMany(s => s).ToArray());
        var positions = tensor(sequences.SelectMany(s => Enumerable.Range(0, s.Length).Select(p => (long)p)).ToArray());
        var packed = model.Forward(new ForwardBatch(ids, positions, new UncachedAttention(lengths)));

        long start = 0;
        foreach (var s in sequences)
        {
            var alone = model.Forward(new ForwardBatch(tensor(s), arange(s.Length, ScalarType.Int64), new UncachedAttention([s.Length])));
            var mine = packed.narrow(0, start, s.Length);
            Assert.True(allclose(mine, alone, rtol: 1e-5, atol: 1e-5), $"a sequence of {s.Length} at {start} differs from its own forward by {(mine - alone).abs().max().item<float>()}");
            start += s.Length;
        }
    }
}
