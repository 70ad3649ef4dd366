using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Tests.WeightSync;

/// <summary><see cref="NcclCommunicator"/> over <see cref="FakeNetwork"/>: every wait ends, by its deadline, an error or a cancellation, with the communicator aborted.</summary>
public class NcclCommunicatorTests
{
    static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    [Fact(Timeout = 60_000)]
    public async Task Joining_a_communicator_no_peer_joins_ends_at_its_deadline_and_aborts()
    {
        var network = new FakeNetwork();

        var e = await Assert.ThrowsAsync<WeightUpdateException>(() => NcclCommunicator.JoinAsync(network, network.NewUniqueId(), 0, 2, Short, CancellationToken.None));

        Assert.Contains("joining the NCCL communicator as rank 0 of 2 did not finish within 0.2 s", e.Message);
        Assert.Equal([0], network.Aborted);
        Assert.Equal([0], network.Disposed);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_cancelled_join_aborts()
    {
        var network = new FakeNetwork();
        using var cancel = new CancellationTokenSource();
        var join = NcclCommunicator.JoinAsync(network, network.NewUniqueId(), 1, 3, TimeSpan.FromHours(1), cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => join);
        Assert.Equal([1], network.Aborted);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_broadcast_that_never_arrives_ends_at_its_deadline_naming_it_and_disposing_leaves_nothing_pending()
    {
        var network = new FakeNetwork { HangAt = 0 };
        byte[] id = network.NewUniqueId();
        var root = NcclCommunicator.JoinAsync(network, id, 0, 2, Short, CancellationToken.None);
        using var receiver = await NcclCommunicator.JoinAsync(network, id, 1, 2, Short, CancellationToken.None);
        using var sender = await root;
        var slot = receiver.CreateSlot(16);

        var broadcast = await receiver.BroadcastAsync(slot, 16, "bucket 7", CancellationToken.None);
        var e = await Assert.ThrowsAsync<WeightUpdateException>(() => receiver.WaitAsync(broadcast, CancellationToken.None));

        Assert.Equal("NCCL: bucket 7 did not finish within 0.2 s; the communicator was aborted", e.Message);
        Assert.Equal([1], network.Aborted);
    }

    [Fact(Timeout = 60_000)]
    public async Task Disposing_with_a_broadcast_pending_aborts_instead_of_waiting_for_it()
    {
        var network = new FakeNetwork { HangAt = 0 };
        byte[] id = network.NewUniqueId();
        var root = NcclCommunicator.JoinAsync(network, id, 0, 2, TimeSpan.FromHours(1), CancellationToken.None);
        using (var receiver = await NcclCommunicator.JoinAsync(network, id, 1, 2, TimeSpan.FromHours(1), CancellationToken.None))
            await receiver.BroadcastAsync(receiver.CreateSlot(16), 16, "bucket 1", CancellationToken.None);
        (await root).Dispose();

        Assert.Equal([1], network.Aborted);
        Assert.Equal([0, 1], network.Disposed.Order());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_broadcast_arrives_in_every_ranks_slot()
    {
        var network = new FakeNetwork();
        byte[] id = network.NewUniqueId();
        var root = NcclCommunicator.JoinAsync(network, id, 0, 2, Short, CancellationToken.None);
        using var receiver = await NcclCommunicator.JoinAsync(network, id, 1, 2, Short, CancellationToken.None);
        using var sender = await root;
        var (from, to) = (sender.CreateSlot(4), receiver.CreateSlot(4));
        from.Write(0, [1, 2, 3, 4]);

        await sender.WaitAsync(await sender.BroadcastAsync(from, 3, "bucket 1", CancellationToken.None), CancellationToken.None);
        await receiver.WaitAsync(await receiver.BroadcastAsync(to, 3, "bucket 1", CancellationToken.None), CancellationToken.None);

        byte[] arrived = new byte[4];
        to.Read(0, arrived);
        Assert.Equal(new byte[] { 1, 2, 3, 0 }, arrived);
        Assert.Empty(network.Aborted);
    }
}
