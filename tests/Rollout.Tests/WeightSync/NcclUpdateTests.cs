using MessagePack;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Nccl;
using Rollout.WeightSync.Receiver;

namespace Rollout.Tests.WeightSync;

/// <summary>
/// The NCCL channel's whole protocol (rendezvous over the control channel, bucketed broadcasts with
/// two in flight, staging, commit) over <see cref="FakeNetwork"/>: what a commit serves, and what each
/// fault leaves. Each test has a timeout: a deadline that does not fire fails it instead of hanging.
/// </summary>
public class NcclUpdateTests
{
    // Odd, so tensors straddle buckets and several are larger than one.
    const long BucketBytes = 65_537;
    static readonly NcclOptions Options = new() { BucketBytes = BucketBytes, Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>
    /// A sender whose control channel hands each engine its rendezvous as MessagePack bytes, as
    /// <c>POST /rl/weights/nccl</c> carries it, and whose engines receive on <paramref name="network"/>.
    /// </summary>
    static NcclWeightSender Sender(FakeNetwork network, NcclOptions options, params WeightReceiver[] engines) =>
        new(engines.Select((_, i) => $"engine-{i + 1}").ToArray(), (i, rendezvous, cancellationToken) => Task.Run(() =>
        {
            var received = MessagePackSerializer.Deserialize<NcclRendezvous>(MessagePackSerializer.Serialize(rendezvous));
            return NcclUpdateReceiver.ReceiveAsync(engines[i], received, network, cancellationToken);
        }), options, () => network);

    [Fact(Timeout = 120_000)]
    public async Task A_full_update_serves_what_a_fresh_load_of_the_new_weights_serves()
    {
        using var s = new UpdateScenario();
        int[] expected = WeightSets.GreedyOf(s.B, WeightSets.Prompt);
        Assert.NotEqual(expected, s.Greedy());
        var network = new FakeNetwork();
        var tensors = WeightSets.Tensors(s.B);
        Assert.True(BucketPlan.Create(ManifestBuilder.Build(tensors, new PushOptions()).Tensors, BucketBytes).Count > 2, "the update must need more buckets than are in flight");

        var outcomes = await WeightPusher.PushAsync(tensors, [Sender(network, Options, s.Receiver)], new PushOptions(), s.Receiver.DType);

        Assert.True(outcomes[0].Succeeded, outcomes[0].Error?.Message);
        Assert.Equal(1, outcomes[0].Result!.Version);
        Assert.Equal(WeightDigest.Compute(s.B.Model.CheckpointTensors()), outcomes[0].Result!.Sha256);
        Assert.Equal(expected, s.Greedy());
        Assert.Empty(network.Aborted);
        Assert.Equal([0, 1], network.Disposed.Order());
    }

    [Fact(Timeout = 120_000)]
    public async Task Two_engines_take_the_same_broadcasts_and_both_commit()
    {
        using var first = new UpdateScenario();
        using var second = new UpdateScenario();
        int[] expected = WeightSets.GreedyOf(first.B, WeightSets.Prompt);

        var result = await Sender(new FakeNetwork(), Options, first.Receiver, second.Receiver).PushAsync(WeightSets.Tensors(first.B), new PushOptions { Version = 4 });

        Assert.Equal(4, result.Version);
        Assert.Equal(expected, first.Greedy());
        Assert.Equal(expected, second.Greedy());
    }

    [Fact(Timeout = 120_000)]
    public async Task A_broadcast_that_hangs_hits_its_deadline_aborts_every_rank_and_leaves_the_engine_free_on_its_version()
    {
        using var s = new UpdateScenario();
        int[] before = s.Greedy();
        var hanging = new FakeNetwork { HangAt = 1 };

        var e = await Assert.ThrowsAsync<WeightUpdateException>(() =>
            Sender(hanging, Options with { Timeout = TimeSpan.FromSeconds(1) }, s.Receiver).PushAsync(WeightSets.Tensors(s.B), new PushOptions()));

        Assert.Contains("bucket 2 of", e.Message);
        Assert.Contains("did not finish within 1 s", e.Message);
        Assert.Equal([0, 1], hanging.Aborted.Order());
        Assert.Equal(0, s.Receiver.Version);
        Assert.Equal(before, s.Greedy());
        Assert.Equal(1, (await Sender(new FakeNetwork(), Options, s.Receiver).PushAsync(WeightSets.Tensors(s.B), new PushOptions())).Version);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_communicator_error_aborts_every_rank_and_changes_nothing()
    {
        using var s = new UpdateScenario();
        int[] before = s.Greedy();
        var failing = new FakeNetwork { FailAt = 2 };

        var e = await Assert.ThrowsAsync<WeightUpdateException>(() => Sender(failing, Options, s.Receiver).PushAsync(WeightSets.Tensors(s.B), new PushOptions()));

        Assert.Contains("fake remote error", e.Message);
        Assert.Equal([0, 1], failing.Aborted.Order());
        Assert.Equal(0, s.Receiver.Version);
        Assert.Equal(before, s.Greedy());
    }

    [Fact(Timeout = 120_000)]
    public async Task A_byte_flipped_on_the_way_is_refused_by_its_tensors_checksum()
    {
        using var s = new UpdateScenario();
        int[] before = s.Greedy();
        var tensors = WeightSets.Tensors(s.B);
        var bucket = BucketPlan.Create(ManifestBuilder.Build(tensors, new PushOptions()).Tensors, BucketBytes)[1];
        const int Offset = 12_345;
        string corrupted = bucket.Pieces.Single(p => p.BucketOffset <= Offset && Offset < p.BucketOffset + p.Length).Tensor;

        var e = await Assert.ThrowsAsync<WeightUpdateException>(() =>
            Sender(new FakeNetwork { Flip = (1, Offset) }, Options, s.Receiver).PushAsync(tensors, new PushOptions()));

        Assert.Contains($"'{corrupted}': checksum", e.Message);
        Assert.Equal(0, s.Receiver.Version);
        Assert.Equal(before, s.Greedy());
    }

    [Fact(Timeout = 120_000)]
    public async Task A_refused_manifest_ends_the_push_with_the_engines_reason_before_any_deadline()
    {
        using var s = new UpdateScenario();
        var network = new FakeNetwork();
        var missing = WeightSets.Tensors(s.B).Where(t => t.Key != "model.norm.weight").ToDictionary();

        // The deadline is far beyond the test's timeout: only the engine's answer can end the push.
        var e = await Assert.ThrowsAsync<WeightUpdateException>(() =>
            Sender(network, Options with { Timeout = TimeSpan.FromHours(1) }, s.Receiver).PushAsync(missing, new PushOptions()));

        Assert.Contains("engine-1: ", e.Message);
        Assert.Contains("model.norm.weight", e.Message);
        // The engine refused before joining; the trainer, if it had started joining, aborted.
        Assert.DoesNotContain(1, network.Joined);
        Assert.Equal(network.Joined.Order(), network.Aborted.Order());
        Assert.Equal(0, s.Receiver.Version);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_busy_engine_is_reported_busy()
    {
        using var s = new UpdateScenario();
        var tensors = WeightSets.Tensors(s.B);
        using (s.Receiver.Begin(ManifestBuilder.Build(tensors, new PushOptions())))
            await Assert.ThrowsAsync<WeightUpdateBusyException>(() =>
                Sender(new FakeNetwork(), Options with { Timeout = TimeSpan.FromHours(1) }, s.Receiver).PushAsync(tensors, new PushOptions()));
        Assert.Equal(1, (await Sender(new FakeNetwork(), Options, s.Receiver).PushAsync(tensors, new PushOptions())).Version);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_cancelled_push_aborts_every_rank_and_changes_nothing()
    {
        using var s = new UpdateScenario();
        var hanging = new FakeNetwork { HangAt = 0 };
        using var cancel = new CancellationTokenSource();
        var push = Sender(hanging, Options with { Timeout = TimeSpan.FromHours(1) }, s.Receiver).PushAsync(WeightSets.Tensors(s.B), new PushOptions(), cancellationToken: cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => push);
        Assert.NotEmpty(hanging.Joined);
        Assert.Equal(hanging.Joined.Order(), hanging.Aborted.Order());
        Assert.Equal(0, s.Receiver.Version);
    }
}
