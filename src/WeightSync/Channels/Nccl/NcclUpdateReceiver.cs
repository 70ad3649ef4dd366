using Rollout.WeightSync.Receiver;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// The engine's end of an NCCL update (rank 1 and up): checks the rendezvous and opens the update on the
/// engine's <see cref="WeightReceiver"/> before joining the communicator (so a refused manifest or a busy
/// engine costs no collective), receives every bucket into device memory, copies each to the host and
/// into the update's staging, then commits: the receiver's checks (names, shapes, dtypes, every byte,
/// checksums), version and atomic apply hold as for every channel. Any failure, a deadline passed or a
/// cancellation (the trainer's control connection gone) aborts the communicator and the update.
/// </summary>
public static class NcclUpdateReceiver
{
    /// <summary>Takes part in the update <paramref name="rendezvous"/> starts, on CUDA device <paramref name="device"/>; returns the commit.</summary>
    /// <exception cref="WeightUpdateException">NCCL is unavailable, the update was refused, or a collective failed or passed its deadline; the engine keeps its weights.</exception>
    public static Task<CommitResult> ReceiveAsync(WeightReceiver receiver, NcclRendezvous rendezvous, int device, CancellationToken cancellationToken = default) =>
        ReceiveAsync(receiver, rendezvous, new NcclCollectiveFactory(device), cancellationToken);

    internal static async Task<CommitResult> ReceiveAsync(WeightReceiver receiver, NcclRendezvous rendezvous, ICollectiveFactory collectives,
        CancellationToken cancellationToken)
    {
        var (manifest, timeout) = rendezvous.Check(collectives.Version);
        using var session = receiver.Begin(manifest);
        var buckets = BucketPlan.Create(manifest.Tensors, rendezvous.BucketBytes);
        using (var communicator = await NcclCommunicator.JoinAsync(collectives, rendezvous.UniqueId, rendezvous.Rank, rendezvous.WorldSize, timeout, cancellationToken))
        {
            byte[] host = GC.AllocateUninitializedArray<byte>(buckets.Count == 0 ? 0 : (int)buckets.Max(b => b.Length));
            await BucketPipeline.RunAsync(communicator, buckets, static (_, _) => { }, (bucket, slot) => Unpack(bucket, slot, host, session), cancellationToken);
        }
        return await session.CommitAsync(cancellationToken);
    }

    static void Unpack(Bucket bucket, ICollectiveSlot slot, byte[] host, UpdateSession session)
    {
        slot.Read(0, host.AsSpan(0, (int)bucket.Length));
        foreach (var piece in bucket.Pieces)
            session.Write(piece.Tensor, piece.TensorOffset, host.AsSpan((int)piece.BucketOffset, (int)piece.Length));
    }
}
