using System.IO.Hashing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Rollout.WeightSync;
using Rollout.WeightSync.Receiver;
using TorchSharp;

namespace Rollout.Tests.WeightSync;

/// <summary>An F32 tensor's bytes cut into writes, and maybe one byte flipped on the way.</summary>
public sealed record WriteCase(int Elements, int[] Cuts, int? Flip, int Seed)
{
    public override string ToString() => $"{Elements * 4} bytes cut at [{string.Join(", ", Cuts)}], {(Flip is int at ? $"byte {at} flipped" : "intact")}";
}

/// <summary>Runs a property with <see cref="StagingGenerators"/>.</summary>
public sealed class StagingPropertyAttribute : PropertyAttribute
{
    public StagingPropertyAttribute()
    {
        Arbitrary = [typeof(StagingGenerators)];
        MaxTest = 100;
    }
}

public static class StagingGenerators
{
    const int SliceElements = StagedTensor.HashSlice / 4;

    public static Arbitrary<WriteCase> WriteCases() =>
        (from elements in Gen.OneOf(
             Gen.Elements(0, 1, SliceElements - 1, SliceElements, SliceElements + 1, 2 * SliceElements + 3),
             Gen.Choose(0, 3 * SliceElements))
         from cuts in Gen.Choose(0, elements * 4).ArrayOf()
         from flip in elements == 0 ? Gen.Constant<int?>(null) : Gen.OneOf(Gen.Constant<int?>(null), Gen.Choose(0, elements * 4 - 1).Select(at => (int?)at))
         from seed in Gen.Choose(0, int.MaxValue)
         select new WriteCase(elements, cuts.Distinct().Order().ToArray(), flip, seed)).ToArbitrary();
}

/// <summary>
/// The receiver hashes a tensor's bytes as it stages them, write by write and slice by slice: however
/// they are cut, the check passes exactly when the staged bytes are the ones the sender hashed.
/// </summary>
public class StagedTensorProperties
{
    [StagingProperty]
    public void Bytes_in_any_pieces_pass_the_check_exactly_when_they_are_the_announced_ones(WriteCase c)
    {
        var bytes = new byte[c.Elements * 4];
        new Random(c.Seed).NextBytes(bytes);
        var spec = new TensorSpec("t", "F32", [c.Elements], bytes.Length, XxHash3.HashToUInt64(bytes));
        using var buffer = torch.empty(c.Elements, torch.float32);
        var staged = new StagedTensor(spec, buffer);
        if (c.Flip is int at) bytes[at] ^= 0x10;

        int offset = 0;
        foreach (int end in c.Cuts.Append(bytes.Length))
        {
            staged.Write(offset, bytes.AsSpan(offset, end - offset));
            offset = end;
        }

        if (c.Flip is null) staged.Verify();
        else Assert.Contains("checksum", Assert.Throws<WeightUpdateException>(staged.Verify).Message);
        Assert.Equal(bytes, buffer.bytes.ToArray());
    }
}
