using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Tests.WeightSync;

/// <summary>Tensor byte lengths and a bucket size, drawn around the bucket size's boundaries.</summary>
public sealed record PlanCase(long[] Lengths, long BucketBytes)
{
    public IReadOnlyList<TensorSpec> Specs => Lengths.Select((l, i) => new TensorSpec($"t{i}", "F32", [l / 4], l, 0)).ToArray();

    public override string ToString() => $"bucket {BucketBytes}: [{string.Join(", ", Lengths)}]";
}

/// <summary>Runs a property with <see cref="NcclGenerators"/>.</summary>
public sealed class NcclPropertyAttribute : PropertyAttribute
{
    public NcclPropertyAttribute()
    {
        Arbitrary = [typeof(NcclGenerators)];
        MaxTest = 300;
    }
}

public static class NcclGenerators
{
    public static Arbitrary<PlanCase> PlanCases() =>
        (from bucket in Gen.Choose(1, 64)
         from count in Gen.Choose(0, 12)
         from lengths in Gen.OneOf(
             Gen.Elements(0, 1, bucket - 1, bucket, bucket + 1, 2 * bucket, 3 * bucket + 1),
             Gen.Choose(0, 5 * bucket)).ArrayOf(count)
         select new PlanCase(lengths.Select(l => (long)l).ToArray(), bucket)).ToArbitrary();
}

/// <summary>The bucket plan: every byte of every tensor in exactly one bucket, in order, and no bucket over the size.</summary>
public class NcclBucketPlanProperties
{
    [NcclProperty]
    public void Every_byte_travels_once_in_manifest_order(PlanCase c)
    {
        var buckets = BucketPlan.Create(c.Specs, c.BucketBytes);

        var pieces = buckets.SelectMany(b => b.Pieces).ToList();
        Assert.All(pieces, p => Assert.True(p.Length > 0));
        var expected = c.Specs.Where(s => s.ByteLength > 0).ToList();
        Assert.Equal(expected.Select(s => s.Name), pieces.Select(p => p.Tensor).Distinct());
        foreach (var spec in expected)
        {
            long next = 0;
            foreach (var piece in pieces.Where(p => p.Tensor == spec.Name))
            {
                Assert.Equal(next, piece.TensorOffset);
                next += piece.Length;
            }
            Assert.Equal(spec.ByteLength, next);
        }
        // Tensors in manifest order: once a tensor's pieces end, it never appears again.
        Assert.Equal(pieces.Select(p => p.Tensor).Distinct(), pieces.Select(p => p.Tensor).Where((t, i) => i == 0 || pieces[i - 1].Tensor != t));
    }

    [NcclProperty]
    public void Buckets_are_full_but_the_last_and_none_is_larger_than_the_size(PlanCase c)
    {
        var buckets = BucketPlan.Create(c.Specs, c.BucketBytes);

        Assert.Equal(c.Lengths.Sum(), buckets.Sum(b => b.Length));
        for (int i = 0; i < buckets.Count; i++)
        {
            var bucket = buckets[i];
            Assert.Equal(i, bucket.Index);
            Assert.InRange(bucket.Length, 1, c.BucketBytes);
            if (i < buckets.Count - 1) Assert.Equal(c.BucketBytes, bucket.Length);
            long at = 0;
            foreach (var piece in bucket.Pieces)
            {
                Assert.Equal(at, piece.BucketOffset);
                at += piece.Length;
            }
            Assert.Equal(bucket.Length, at);
        }
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public void A_bucket_size_below_one_byte_is_refused(long bucketBytes) =>
        Assert.Throws<WeightUpdateException>(() => BucketPlan.Create([new TensorSpec("t", "F32", [1], 4, 0)], bucketBytes));
}
