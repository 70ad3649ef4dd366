using Rollout.TestSupport;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Tests.WeightSync;

/// <summary>The real libnccl and CUDA runtime: a one-rank communicator broadcasting into CUDA memory. Skipped, with the reason, where NCCL cannot load.</summary>
public class NcclLibraryTests
{
    [RequiresNcclFact]
    public void The_library_reports_a_version_of_at_least_2_14()
    {
        Assert.True(NcclLibrary.TryLoad(out string reason), reason);
        Assert.InRange(NcclLibrary.Version, 21400, int.MaxValue);
    }

    [RequiresNcclFact(Timeout = 120_000)]
    public async Task A_one_rank_broadcast_lands_in_CUDA_memory_and_reads_back()
    {
        var factory = new NcclCollectiveFactory(device: 0);
        using var communicator = await NcclCommunicator.JoinAsync(factory, factory.NewUniqueId(), 0, 1, TimeSpan.FromSeconds(60), CancellationToken.None);
        var slot = communicator.CreateSlot(1 << 20);
        byte[] sent = Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 31 + 7)).ToArray();
        slot.Write(0, sent);

        await communicator.WaitAsync(await communicator.BroadcastAsync(slot, sent.Length, "a one-rank broadcast", CancellationToken.None), CancellationToken.None);

        byte[] back = new byte[sent.Length];
        slot.Read(0, back);
        Assert.Equal(sent, back);
    }

    [RequiresNcclFact(Timeout = 120_000)]
    public async Task The_pipeline_moves_a_plan_through_two_CUDA_slots_in_turn()
    {
        var factory = new NcclCollectiveFactory(device: 0);
        using var communicator = await NcclCommunicator.JoinAsync(factory, factory.NewUniqueId(), 0, 1, TimeSpan.FromSeconds(60), CancellationToken.None);
        byte[] bytes = Enumerable.Range(0, 5_000_000).Select(i => (byte)(i * 13 + 1)).ToArray();
        var buckets = BucketPlan.Create([new Rollout.WeightSync.TensorSpec("t", "F32", [bytes.Length / 4], bytes.Length, 0)], 1 << 20);
        byte[] back = new byte[bytes.Length];

        await BucketPipeline.RunAsync(communicator, buckets,
            (bucket, slot) => slot.Write(0, bytes.AsSpan((int)bucket.Pieces[0].TensorOffset, (int)bucket.Length)),
            (bucket, slot) => slot.Read(0, back.AsSpan((int)bucket.Pieces[0].TensorOffset, (int)bucket.Length)), CancellationToken.None);

        Assert.Equal(bytes, back);
    }
}
