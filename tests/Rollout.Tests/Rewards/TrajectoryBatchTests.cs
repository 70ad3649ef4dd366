using Rollout.Rewards;
using static TorchSharp.torch;

namespace Rollout.Tests.Rewards;

public class TrajectoryBatchTests
{
    // Each test opens a dispose scope for its row views and selections; the batches are detached from it and disposed by the test.
    static long[] Longs(Tensor t) => t.data<long>().ToArray();
    static float[] Floats(Tensor t) => t.data<float>().ToArray();

    static TrajectoryBatch Padded(TrajectorySample s) => TrajectoryBatch.Padded(s.Trajectories, s.Advantages, CPU, s.PadTokenId);
    static TrajectoryBatch Packed(TrajectorySample s) => TrajectoryBatch.Packed(s.Trajectories, s.Advantages, CPU, s.PadTokenId);

    [RewardsProperty]
    public void Loss_mask_sums_to_the_completion_tokens_in_either_layout(TrajectorySample s)
    {
        using var scope = NewDisposeScope();
        int completionTokens = s.Trajectories.Sum(t => t.CompletionTokenIds.Count);
        using var padded = Padded(s);
        using var packed = Packed(s);
        Assert.Equal(completionTokens, (int)padded.LossMask.sum().item<float>());
        Assert.Equal(completionTokens, (int)packed.LossMask.sum().item<float>());
        Assert.Equal(completionTokens, padded.CompletionTokenCount);
    }

    [RewardsProperty]
    public void Unpadding_each_row_gives_back_its_trajectory(TrajectorySample s)
    {
        using var scope = NewDisposeScope();
        using var batch = Padded(s);
        int width = s.Trajectories.Max(t => t.PromptTokenIds.Count + t.CompletionTokenIds.Count);
        Assert.Equal([s.Trajectories.Length, width], batch.InputIds.shape);
        Assert.Equal(s.Advantages, Floats(batch.Advantages));
        for (int b = 0; b < s.Trajectories.Length; b++)
        {
            var t = s.Trajectories[b];
            int length = t.PromptTokenIds.Count + t.CompletionTokenIds.Count;
            Assert.Equal(length, batch.SequenceLengths[b]);
            Assert.Equal(t.PromptTokenIds.Concat(t.CompletionTokenIds).Select(id => (long)id), Longs(batch.InputIds[b])[..length]);
            Assert.Equal(Enumerable.Range(0, length).Select(p => (long)p), Longs(batch.Positions[b])[..length]);
            using var mask = batch.LossMask[b].to_type(ScalarType.Bool);
            Assert.Equal(t.CompletionTokenIds.Select(id => (long)id), Longs(batch.TargetIds[b].masked_select(mask)));
            Assert.Equal(t.Logprobs, Floats(batch.OldLogprobs[b].masked_select(mask)));
            Assert.Equal(t.WeightVersions, Longs(batch.WeightVersions[b].masked_select(mask)));
            Assert.All(Floats(batch.TokenAdvantages[b].masked_select(mask)), a => Assert.Equal(s.Advantages[b], a));
        }
    }

    [RewardsProperty]
    public void The_loss_mask_covers_exactly_the_positions_that_predict_a_completion_token_and_the_rest_is_pad_or_zero(TrajectorySample s)
    {
        using var scope = NewDisposeScope();
        using var batch = Padded(s);
        for (int b = 0; b < s.Trajectories.Length; b++)
        {
            var t = s.Trajectories[b];
            int prompt = t.PromptTokenIds.Count, length = prompt + t.CompletionTokenIds.Count;
            var (inputs, positions, attention, targets) = (Longs(batch.InputIds[b]), Longs(batch.Positions[b]), Longs(batch.AttentionMask[b]), Longs(batch.TargetIds[b]));
            var (loss, logprobs, versions, advantages) = (Floats(batch.LossMask[b]), Floats(batch.OldLogprobs[b]), Longs(batch.WeightVersions[b]), Floats(batch.TokenAdvantages[b]));
            for (int p = 0; p < inputs.Length; p++)
            {
                bool real = p < length;
                Assert.Equal(real ? 1 : 0, attention[p]);
                if (!real) Assert.Equal((s.PadTokenId, 0L), (inputs[p], positions[p]));
                // Position p predicts token p + 1.
                bool predictsCompletion = p >= prompt - 1 && p < length - 1;
                Assert.Equal(predictsCompletion ? 1f : 0f, loss[p]);
                if (predictsCompletion) Assert.Equal(inputs[p + 1], targets[p]);
                else Assert.Equal((s.PadTokenId, 0f, 0L, 0f), (targets[p], logprobs[p], versions[p], advantages[p]));
            }
        }
    }

    [RewardsProperty]
    public void The_packed_form_is_the_padded_forms_unpadded_content(TrajectorySample s)
    {
        using var scope = NewDisposeScope();
        using var padded = Padded(s);
        using var packed = Packed(s);
        Assert.Equal(padded.SequenceLengths, packed.SequenceLengths);
        Assert.Equal([padded.SequenceLengths.Sum()], packed.InputIds.shape);
        using var real = padded.AttentionMask.to_type(ScalarType.Bool);
        foreach (var (p, q) in new[]
                 {
                     (padded.InputIds, packed.InputIds), (padded.Positions, packed.Positions), (padded.AttentionMask, packed.AttentionMask),
                     (padded.TargetIds, packed.TargetIds), (padded.WeightVersions, packed.WeightVersions),
                 })
            Assert.Equal(Longs(p.masked_select(real)), Longs(q));
        foreach (var (p, q) in new[] { (padded.LossMask, packed.LossMask), (padded.OldLogprobs, packed.OldLogprobs), (padded.TokenAdvantages, packed.TokenAdvantages) })
            Assert.Equal(Floats(p.masked_select(real)), Floats(q));
    }

    [Fact]
    public void A_known_pair_lays_out_as_documented()
    {
        Rollout.Client.Trajectory[] trajectories =
        [
            RewardGenerators.Make([5, 6], [7, 8], [-0.5f, -0.25f], [3, 4]),
            RewardGenerators.Make([9], [10], [-1f], [4]),
        ];
        using var batch = TrajectoryBatch.Padded(trajectories, [2f, -1f], CPU, padTokenId: 0);
        Assert.Equal([5L, 6, 7, 8, 9, 10, 0, 0], Longs(batch.InputIds));
        Assert.Equal([1L, 1, 1, 1, 1, 1, 0, 0], Longs(batch.AttentionMask));
        Assert.Equal([0L, 7, 8, 0, 10, 0, 0, 0], Longs(batch.TargetIds));
        Assert.Equal([0f, 1, 1, 0, 1, 0, 0, 0], Floats(batch.LossMask));
        Assert.Equal([0f, -0.5f, -0.25f, 0, -1, 0, 0, 0], Floats(batch.OldLogprobs));
        Assert.Equal([0L, 3, 4, 0, 4, 0, 0, 0], Longs(batch.WeightVersions));
        Assert.Equal([0f, 2, 2, 0, -1, 0, 0, 0], Floats(batch.TokenAdvantages));
    }

    [Fact]
    public void Inconsistent_trajectories_are_refused_with_what_is_wrong()
    {
        var good = RewardGenerators.Make([1], [2, 3]);
        Assert.Contains("2 completion tokens but 1 logprobs",
            Assert.Throws<ArgumentException>(() => TrajectoryBatch.Padded([good, good with { Logprobs = [0f] }], [0f, 0f], CPU)).Message);
        Assert.Contains("trajectory 0 has 2 completion tokens but 3 weight versions",
            Assert.Throws<ArgumentException>(() => TrajectoryBatch.Packed([good with { WeightVersions = [1, 1, 1] }], [0f], CPU)).Message);
        Assert.Contains("no prompt token", Assert.Throws<ArgumentException>(() => TrajectoryBatch.Padded([good with { PromptTokenIds = [] }], [0f], CPU)).Message);
        Assert.Contains("non-finite logprob",
            Assert.Throws<ArgumentException>(() => TrajectoryBatch.Padded([good with { Logprobs = [0f, float.NaN] }], [0f], CPU)).Message);
        Assert.Contains("1 advantages for 2 trajectories", Assert.Throws<ArgumentException>(() => TrajectoryBatch.Padded([good, good], [0f], CPU)).Message);
        Assert.Contains("must be finite", Assert.Throws<ArgumentException>(() => TrajectoryBatch.Padded([good], [float.PositiveInfinity], CPU)).Message);
        Assert.Throws<ArgumentException>(() => TrajectoryBatch.Padded([], [], CPU));
    }

    [Fact]
    public void The_batch_outlives_the_dispose_scope_it_was_built_in_and_dispose_frees_its_tensors()
    {
        TrajectoryBatch batch;
        using (NewDisposeScope()) batch = TrajectoryBatch.Padded([RewardGenerators.Make([1], [2])], [1f], CPU);
        Assert.Equal([1L, 2], Longs(batch.InputIds));
        batch.Dispose();
        Assert.All(new[] { batch.InputIds, batch.LossMask, batch.Advantages, batch.TokenAdvantages }, t => Assert.True(t.IsInvalid));
    }
}
