namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// Broadcasts the buckets of a plan with two in flight, through two slots used in turn: while one
/// bucket travels, the root packs the next into the other slot and a receiver unpacks the previous one.
/// A slot is refilled only once its last bucket arrived and was unpacked. The same loop runs on every
/// rank, so all issue the same broadcasts in the same order.
/// </summary>
internal static class BucketPipeline
{
    public const int InFlight = 2;

    /// <summary>
    /// Runs every bucket through <paramref name="communicator"/>: <paramref name="fill"/> before its broadcast
    /// (the root packs it), <paramref name="drain"/> once it arrived (a receiver unpacks it; the root reports progress).
    /// </summary>
    public static async Task RunAsync(NcclCommunicator communicator, IReadOnlyList<Bucket> buckets, Action<Bucket, ICollectiveSlot> fill,
        Action<Bucket, ICollectiveSlot> drain, CancellationToken cancellationToken)
    {
        if (buckets.Count == 0) return;
        long capacity = buckets.Max(b => b.Length);
        var slots = Enumerable.Range(0, Math.Min(InFlight, buckets.Count)).Select(_ => communicator.CreateSlot(capacity)).ToArray();
        var pending = new Queue<(Bucket Bucket, NcclCommunicator.InFlight Broadcast)>();
        foreach (var bucket in buckets)
        {
            if (pending.Count == InFlight) await Complete(pending.Dequeue());
            var slot = slots[bucket.Index % slots.Length];
            fill(bucket, slot);
            string what = $"the broadcast of bucket {bucket.Index + 1} of {buckets.Count} ({bucket.Length} bytes)";
            pending.Enqueue((bucket, await communicator.BroadcastAsync(slot, bucket.Length, what, cancellationToken)));
        }
        while (pending.Count > 0) await Complete(pending.Dequeue());

        async Task Complete((Bucket Bucket, NcclCommunicator.InFlight Broadcast) done)
        {
            await communicator.WaitAsync(done.Broadcast, cancellationToken);
            drain(done.Bucket, done.Broadcast.Slot);
        }
    }
}
