using Rollout.Engine.Sequences;

namespace Rollout.Engine.Tests.Sequences;

public class SequenceTests
{
    [Fact]
    public void AllTokens_is_prompt_then_output()
    {
        var seq = new Sequence("r", 0, [1, 2, 3]);
        seq.OutputTokenIds.AddRange([4, 5]);

        Assert.Equal([1, 2, 3, 4, 5], seq.AllTokens);
        Assert.Equal(5, seq.AllTokens.Count);
        Assert.Equal(4, seq.AllTokens[3]);
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    [InlineData(5, 0)]
    public void CopyTokens_crosses_the_prompt_output_boundary(int start, int length)
    {
        var seq = new Sequence("r", 0, [1, 2, 3]);
        seq.OutputTokenIds.AddRange([4, 5]);
        var destination = new int[length];

        seq.CopyTokens(start, destination);

        Assert.Equal(seq.AllTokens.Skip(start).Take(length), destination);
    }

    [Fact]
    public void CopyTokens_past_the_end_throws()
    {
        var seq = new Sequence("r", 0, [1, 2, 3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => seq.CopyTokens(2, new int[2]));
    }

    [Fact]
    public void An_empty_prompt_is_rejected() =>
        Assert.Throws<ArgumentException>(() => new Sequence("r", 0, []));
}
