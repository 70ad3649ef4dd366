using Rollout.Models.Attention;
using Rollout.Models.BatchInvariant;
using Rollout.Models.Configuration;
using Rollout.Models.Loading;
using Rollout.TestSupport;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Modeling;

/// <summary>
/// The batch-invariant mode trains: its custom autograd functions give the gradients libtorch's own operations give
/// (to fp32 rounding), for a whole model and for the attention function alone, whose backward is the most involved.
/// </summary>
public class BatchInvariantGradientTests
{
    public static IEnumerable<object[]> Architectures => TinyModels.CausalArchitectures;

    [Theory]
    [MemberData(nameof(Architectures))]
    public void A_training_step_gets_libtorchs_gradients(string architecture)
    {
        string dir = TinyModels.Directory(architecture);
        using var invariant = ModelLoader.Load(dir, new ModelOptions { CpuKernels = CpuKernels.BatchInvariant });
        using var reference = ModelLoader.Load(dir, new ModelOptions { CpuKernels = CpuKernels.Reference });
        int[] lengths = [5, 23, 9];
        var random = new Random(3);
        int total = lengths.Sum();
        var ids = tensor(Enumerable.Range(0, total).Select(_ => (long)random.Next(invariant.Config.VocabSize)).ToArray());
        var positions = tensor(lengths.SelectMany(l => Enumerable.Range(0, l).Select(p => (long)p)).ToArray());
        var targets = tensor(Enumerable.Range(0, total).Select(_ => (long)random.Next(invariant.Config.VocabSize)).ToArray());
        var weights = rand(total, generator: new Generator(9));

        Tensor Loss(LoadedModel loaded)
        {
            var model = (CausalLanguageModel)loaded.Model;
            var hidden = model.Forward(new ForwardBatch(ids, positions, new UncachedAttention(lengths)));
            var logprobs = model.ComputeLogits(hidden).log_softmax(-1).gather(1, targets.unsqueeze(1)).squeeze(1);
            return (logprobs * weights).sum();
        }
        var invariantLoss = Loss(invariant);
        var referenceLoss = Loss(reference);
        invariantLoss.backward();
        referenceLoss.backward();

        Assert.Equal(referenceLoss.item<float>(), invariantLoss.item<float>(), 1e-3f);
        var referenceParameters = reference.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in invariant.Model.named_parameters())
        {
            var want = referenceParameters[name].grad!;
            var got = parameter.grad;
            Assert.True(got is not null, $"{name} got no gradient");
            double scale = want.abs().max().item<float>();
            double error = (got! - want).abs().max().item<float>();
            Assert.True(error <= 1e-3 * scale + 1e-6, $"{architecture} {name}: gradient off by {error:E2} (largest {scale:E2})");
        }
    }

    [Fact]
    public void The_mode_is_refused_where_its_kernels_cannot_run_naming_why()
    {
        var config = new ModelConfig
        {
            Architecture = "LlamaForCausalLM", VocabSize = 32, HiddenSize = 64, IntermediateSize = 100, NumHiddenLayers = 1,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16,
        };
        var odd = Assert.Throws<NotSupportedException>(() => TransformerModel.Create(config, new ModelOptions { CpuKernels = CpuKernels.BatchInvariant }));
        Assert.Contains("intermediate_size", odd.Message);
        var bf16 = Assert.Throws<NotSupportedException>(() =>
            TransformerModel.Create(config with { IntermediateSize = 128 }, new ModelOptions { CpuKernels = CpuKernels.BatchInvariant, DType = ScalarType.BFloat16 }));
        Assert.Contains("float32", bf16.Message);
        using var fine = TransformerModel.Create(config with { IntermediateSize = 128 }, new ModelOptions { CpuKernels = CpuKernels.BatchInvariant });
    }

    [Theory]
    [InlineData(null)]
    [InlineData(4)]
    public void Attention_gets_libtorchs_gradients(int? window)
    {
        int[] lengths = [3, 11, 6];
        int total = lengths.Sum(), heads = 4, kvHeads = 2, d = 16;
        var generator = new Generator(5);
        Tensor Leaf(long h) => randn([total, h, d], generator: generator).requires_grad_(true);
        var q = Leaf(heads);
        var k = Leaf(kvHeads);
        var v = Leaf(kvHeads);
        var upstream = randn([total, heads, d], generator: generator);

        var (qr, kr, vr) = (q.detach().requires_grad_(true), k.detach().requires_grad_(true), v.detach().requires_grad_(true));
        var output = InvariantAttention.Apply(q, k, v, InvariantAttention.Batch(lengths), lengths, window);
        var expected = new UncachedAttention(lengths).Attend(0, qr, kr, vr, new AttentionLayerOptions(window));
        Assert.True((output - expected).abs().max().item<float>() < 1e-5, "the forward differs from libtorch's attention");

        (output * upstream).sum().backward();
        (expected * upstream).sum().backward();
        foreach (var (got, want, name) in new[] { (q.grad!, qr.grad!, "query"), (k.grad!, kr.grad!, "key"), (v.grad!, vr.grad!, "value") })
            Assert.True((got - want).abs().max().item<float>() < 1e-4, $"{name} gradient differs from libtorch's by {(got - want).abs().max().item<float>():E2}");
    }
}
