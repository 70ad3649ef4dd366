namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>A run of one tensor's bytes inside a bucket.</summary>
internal readonly record struct BucketPiece(string Tensor, long TensorOffset, long BucketOffset, long Length);

/// <summary>One broadcast: <see cref="Length"/> bytes, the pieces of the tensors it carries back to back.</summary>
internal sealed record Bucket(int Index, long Length, IReadOnlyList<BucketPiece> Pieces);

/// <summary>
/// Which bytes travel in which broadcast. The tensors' bytes, in manifest order, are laid end to end
/// and cut every <c>bucketBytes</c>: every bucket but the last is full, none is larger, and a tensor
/// larger than a bucket (or one that straddles a cut) travels in consecutive buckets. Both ends compute
/// the plan from the manifest and the bucket size, so no offsets travel.
/// </summary>
internal static class BucketPlan
{
    /// <summary>The largest bucket: the receiver copies one into a host array.</summary>
    public static readonly long MaxBucketBytes = Array.MaxLength;

    /// <summary>The buckets that carry <paramref name="tensors"/> in buckets of <paramref name="bucketBytes"/>.</summary>
    public static IReadOnlyList<Bucket> Create(IReadOnlyList<TensorSpec> tensors, long bucketBytes)
    {
        if (bucketBytes < 1 || bucketBytes > MaxBucketBytes)
            throw new WeightUpdateException($"a bucket of {bucketBytes} bytes: it must hold 1 to {MaxBucketBytes}");
        var buckets = new List<Bucket>();
        var pieces = new List<BucketPiece>();
        long filled = 0;
        foreach (var spec in tensors)
        {
            for (long sent = 0; sent < spec.ByteLength;)
            {
                long length = Math.Min(spec.ByteLength - sent, bucketBytes - filled);
                pieces.Add(new BucketPiece(spec.Name, sent, filled, length));
                sent += length;
                filled += length;
                if (filled == bucketBytes) Close();
            }
        }
        if (filled > 0) Close();
        return buckets;

        void Close()
        {
            buckets.Add(new Bucket(buckets.Count, filled, pieces));
            pieces = [];
            filled = 0;
        }
    }
}
