using Rollout.Engine.Sequences;
using Rollout.Engine.Speculation;
using Rollout.Engine.Tests.Core;
using Rollout.Models;

namespace Rollout.Engine.Tests.Speculation;

public class DraftModelProposerTests
{
    static DraftModelProposer Proposer() =>
        new((CausalLanguageModel)TinyEngine.Model("LlamaForCausalLM").Model, kvCacheBytes: 1 << 20, blockSize: 4, maxModelLength: 512);

    static Sequence Running(params int[] prompt) => new("r", 0, prompt) { Status = SequenceStatus.Running };

    /// <summary>A proposal the step had no room for is asked for again before the sequence advanced: the same one comes back.</summary>
    [Fact]
    public void Asking_again_before_the_sequence_advanced_proposes_the_same_tokens()
    {
        using var proposer = Proposer();
        var seq = Running(5, 9, 13, 2, 7);
        var first = new int[1][];
        var again = new int[1][];

        proposer.Propose([seq], [4], first);
        proposer.Propose([seq], [1], again);

        Assert.Equal(4, first[0].Length);
        Assert.Equal(first[0][..1], again[0]);
    }

    /// <summary>The draft's cache follows the sequence: after it advances, proposals equal those of a fresh proposer.</summary>
    [Fact]
    public void After_the_sequence_advances_the_proposal_is_what_a_fresh_draft_would_propose()
    {
        using var proposer = Proposer();
        var seq = Running(5, 9, 13, 2, 7);
        var proposal = new int[1][];
        proposer.Propose([seq], [3], proposal);
        seq.OutputTokenIds.Add(proposal[0][0]);
        seq.OutputTokenIds.Add(11);
        proposer.Propose([seq], [3], proposal);

        using var fresh = Proposer();
        var expected = new int[1][];
        fresh.Propose([seq], [3], expected);
        Assert.Equal(expected[0], proposal[0]);
    }
}
