using Rollout.Engine.KvCache;

namespace Rollout.Engine.Tests.KvCache;

public class PrefixHasherTests
{
    static readonly int[] Tokens = [1, 2, 3, 4];

    [Fact]
    public void Equal_inputs_hash_equal()
    {
        var parent = PrefixHasher.Hash(null, [9], 3);
        Assert.Equal(PrefixHasher.Hash(parent, Tokens, 3, [7]), PrefixHasher.Hash(parent, Tokens, 3, [7]));
    }

    [Fact]
    public void Every_input_changes_the_hash()
    {
        var parent = PrefixHasher.Hash(null, [9], 0);
        var baseline = PrefixHasher.Hash(parent, Tokens, 0);
        BlockHash[] variants =
        [
            PrefixHasher.Hash(null, Tokens, 0),
            PrefixHasher.Hash(default(BlockHash), Tokens, 0),
            PrefixHasher.Hash(PrefixHasher.Hash(null, [8], 0), Tokens, 0),
            PrefixHasher.Hash(parent, [1, 2, 3, 5], 0),
            PrefixHasher.Hash(parent, [1, 2, 3], 0),
            PrefixHasher.Hash(parent, Tokens, 1),
            PrefixHasher.Hash(parent, Tokens, 0, [0]),
        ];
        Assert.DoesNotContain(baseline, variants);
        Assert.Equal(variants.Length, variants.Distinct().Count());
    }

    [Fact]
    public void Blocks_larger_than_the_stack_buffer_hash_consistently()
    {
        int[] big = Enumerable.Range(0, 1000).ToArray();
        int[] other = [.. big[..^1], -1];
        Assert.Equal(PrefixHasher.Hash(null, big, 0), PrefixHasher.Hash(null, big, 0));
        Assert.NotEqual(PrefixHasher.Hash(null, big, 0), PrefixHasher.Hash(null, other, 0));
    }
}
