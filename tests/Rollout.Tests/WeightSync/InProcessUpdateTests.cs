using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Receiver;
using TorchSharp;

namespace Rollout.Tests.WeightSync;

/// <summary>Updates through the in-process channel: what a committed update serves, and what every refusal leaves.</summary>
public class InProcessUpdateTests
{
    [Fact]
    public async Task A_full_update_serves_what_a_fresh_load_of_the_new_weights_serves()
    {
        using var s = new UpdateScenario();
        var (b, engine, receiver) = (s.B, s.Engine, s.Receiver);
        int[] expected = WeightSets.GreedyOf(b, WeightSets.Prompt);
        Assert.NotEqual(expected, s.Greedy());

        var tensors = WeightSets.Tensors(b);
        var result = await new InProcessWeightSender(receiver).PushAsync(tensors, new PushOptions());

        Assert.Equal(1, result.Version);
        Assert.Equal(expected, s.Greedy());
        string digest = WeightDigest.Compute(b.Model.CheckpointTensors());
        Assert.Equal(digest, result.Sha256);
        Assert.Equal(digest, result.UpdatedSha256);
        Assert.Equal((1L, digest), await receiver.CurrentAsync());
        var versions = (await engine.AddRequest(WeightSets.Prompt, WeightSets.GreedyTwelve).CompletionAsync()).Outputs[0].WeightVersions;
        Assert.All(versions, v => Assert.Equal(1L, v));
    }

    [Fact]
    public async Task Bf16_tensors_and_fused_names_are_converted_and_split_as_the_digest_expects()
    {
        using var s = new UpdateScenario();
        var (a, b, receiver) = (s.A, s.B, s.Receiver);
        // The trainer's own layout: fused q/k/v and gate/up parameters, in bf16.
        var fused = b.Model.Parameters().ToDictionary(p => p.Key, p => p.Value.detach().clone().to(torch.ScalarType.BFloat16));

        var outcomes = await WeightPusher.PushAsync(fused, [new InProcessWeightSender(receiver)], new PushOptions(), receiver.DType);

        Assert.True(outcomes[0].Succeeded, outcomes[0].Error?.Message);
        Assert.Equal(ManifestBuilder.ExpectedDigest(fused, torch.ScalarType.Float32), outcomes[0].Result!.UpdatedSha256);
        foreach (var (name, parameter) in a.Model.Parameters())
            Assert.True((parameter == fused[name].to(torch.ScalarType.Float32)).all().item<bool>(), $"{name} is not the bf16 value widened");
    }

    [Fact]
    public async Task A_partial_update_changes_only_what_it_names()
    {
        using var s = new UpdateScenario();
        var (a, b, receiver) = (s.A, s.B, s.Receiver);
        var before = WeightSets.Tensors(a);
        var part = WeightSets.Tensors(b).Where(t => t.Key.StartsWith("model.layers.1.", StringComparison.Ordinal)).ToDictionary();

        var result = await new InProcessWeightSender(receiver).PushAsync(part, new PushOptions { Partial = true });

        Assert.Equal(ManifestBuilder.ExpectedDigest(part, torch.ScalarType.Float32), result.UpdatedSha256);
        foreach (var (name, tensor) in a.Model.CheckpointTensors())
            Assert.True((tensor == (part.TryGetValue(name, out var sent) ? sent : before[name])).all().item<bool>(), name);
    }

    public static IEnumerable<object[]> Refusals() =>
    [
        ["wrong shape", (Func<Dictionary<string, torch.Tensor>, Dictionary<string, torch.Tensor>>)(t => Replace(t, "model.norm.weight", torch.ones(3)))],
        ["wrong dtype", (Func<Dictionary<string, torch.Tensor>, Dictionary<string, torch.Tensor>>)(t => Replace(t, "model.norm.weight", t["model.norm.weight"].to(torch.ScalarType.Float64)))],
        ["unknown name", (Func<Dictionary<string, torch.Tensor>, Dictionary<string, torch.Tensor>>)(t => Replace(t, "model.layers.9.mlp.up_proj.weight", torch.ones(2, 2)))],
        ["missing tensor", (Func<Dictionary<string, torch.Tensor>, Dictionary<string, torch.Tensor>>)(t => t.Where(e => e.Key != "model.norm.weight").ToDictionary())],
        ["a tensor named twice through its fused parameter", (Func<Dictionary<string, torch.Tensor>, Dictionary<string, torch.Tensor>>)(t =>
            Replace(t, "model.layers.0.self_attn.qkv_proj.weight", torch.cat([t["model.layers.0.self_attn.q_proj.weight"], t["model.layers.0.self_attn.k_proj.weight"], t["model.layers.0.self_attn.v_proj.weight"]])))],
    ];

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_manifest_leaves_the_engine_as_it_was(string what, Func<Dictionary<string, torch.Tensor>, Dictionary<string, torch.Tensor>> damage)
    {
        using var s = new UpdateScenario();
        var (b, receiver) = (s.B, s.Receiver);
        int[] before = s.Greedy();

        var e = await Assert.ThrowsAsync<WeightUpdateException>(() => new InProcessWeightSender(receiver).PushAsync(damage(WeightSets.Tensors(b)), new PushOptions()));

        Assert.False(string.IsNullOrWhiteSpace(e.Message), what);
        Assert.Equal(0, receiver.Version);
        Assert.Equal(before, s.Greedy());
        // The refusal released the receiver: the next update goes through.
        Assert.Equal(1, (await new InProcessWeightSender(receiver).PushAsync(WeightSets.Tensors(b), new PushOptions())).Version);
    }

    [Fact]
    public async Task Stale_and_repeated_versions_are_refused_and_versions_only_move_forward()
    {
        using var s = new UpdateScenario();
        var (a, b, receiver) = (s.A, s.B, s.Receiver);
        var sender = new InProcessWeightSender(receiver);
        Assert.Equal(5, (await sender.PushAsync(WeightSets.Tensors(b), new PushOptions { Version = 5 })).Version);

        await Assert.ThrowsAsync<WeightUpdateException>(() => sender.PushAsync(WeightSets.Tensors(a), new PushOptions { Version = 5 }));
        await Assert.ThrowsAsync<WeightUpdateException>(() => sender.PushAsync(WeightSets.Tensors(a), new PushOptions { Version = 3 }));
        Assert.Equal(5, receiver.Version);
        Assert.Equal(6, (await sender.PushAsync(WeightSets.Tensors(b), new PushOptions())).Version);
    }

    [Fact]
    public async Task A_flipped_byte_or_a_short_tensor_fails_the_commit_and_changes_nothing()
    {
        using var s = new UpdateScenario();
        var receiver = s.Receiver;
        int[] before = s.Greedy();
        var tensors = WeightSets.Tensors(s.B);
        var manifest = ManifestBuilder.Build(tensors, new PushOptions());

        foreach (bool flip in new[] { true, false })
        {
            using var session = receiver.Begin(manifest);
            foreach (var spec in manifest.Tensors)
            {
                byte[] bytes = tensors[spec.Name].bytes.ToArray();
                if (spec.Name == "model.norm.weight")
                {
                    if (flip) bytes[3] ^= 0x10;
                    else bytes = bytes[..^4];
                }
                session.Write(spec.Name, 0, bytes);
            }
            var e = await Assert.ThrowsAsync<WeightUpdateException>(() => session.CommitAsync());
            Assert.Contains("model.norm.weight", e.Message);
        }
        Assert.Equal(0, receiver.Version);
        Assert.Equal(before, s.Greedy());
    }

    [Fact]
    public async Task A_second_update_is_refused_while_one_is_open()
    {
        using var s = new UpdateScenario();
        var (b, receiver) = (s.B, s.Receiver);
        var manifest = ManifestBuilder.Build(WeightSets.Tensors(b), new PushOptions());
        using (receiver.Begin(manifest))
            await Assert.ThrowsAsync<WeightUpdateBusyException>(() => new InProcessWeightSender(receiver).PushAsync(WeightSets.Tensors(b), new PushOptions()));
        Assert.Equal(1, (await new InProcessWeightSender(receiver).PushAsync(WeightSets.Tensors(b), new PushOptions())).Version);
    }

    [Fact]
    public async Task A_manifest_refused_on_its_own_never_makes_the_open_update_busy_and_asking_the_digest_never_does()
    {
        using var s = new UpdateScenario();
        var (b, receiver) = (s.B, s.Receiver);
        var tensors = WeightSets.Tensors(b);
        var lacking = tensors.Skip(1).ToDictionary();
        Assert.False(receiver.UpdateInProgress);
        var open = receiver.Begin(ManifestBuilder.Build(tensors, new PushOptions()));
        Assert.True(receiver.UpdateInProgress);
        // While an update is open, a manifest that could never apply, or a stale version, says why, not "busy".
        var refused = Assert.ThrowsAny<WeightUpdateException>(() => receiver.Begin(ManifestBuilder.Build(lacking, new PushOptions())));
        Assert.IsNotType<WeightUpdateBusyException>(refused);
        var stale = Assert.ThrowsAny<WeightUpdateException>(() => receiver.Begin(ManifestBuilder.Build(tensors, new PushOptions { Version = 0 })));
        Assert.Contains("not newer", stale.Message);
        open.Dispose();
        Assert.False(receiver.UpdateInProgress);

        // A digest being computed does not hold the update gate.
        var digest = receiver.CurrentAsync();
        using (receiver.Begin(ManifestBuilder.Build(tensors, new PushOptions()))) { }
        Assert.Equal(0L, (await digest).Version);
        Assert.Equal(1, (await new InProcessWeightSender(receiver).PushAsync(tensors, new PushOptions())).Version);
        Assert.Equal(1L, (await receiver.CurrentAsync()).Version);
    }

    static Dictionary<string, torch.Tensor> Replace(Dictionary<string, torch.Tensor> tensors, string name, torch.Tensor tensor)
    {
        var copy = new Dictionary<string, torch.Tensor>(tensors) { [name] = tensor };
        return copy;
    }
}
