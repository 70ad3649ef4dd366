using FsCheck;
using FsCheck.Xunit;
using Rollout.Models.Kernels;

namespace Rollout.Models.Tests.Kernels;

/// <summary>How the threads of a parallel loop claim its tasks: own share from the front, others' from the back.</summary>
public class TaskSharesTests
{
    [Property(MaxTest = 200)]
    public bool AnyOrderOfClaimsTakesEveryTaskOnceAndEachShareFromItsFront(PositiveInt taskCount, PositiveInt shareCount, int[] homes)
    {
        int tasks = taskCount.Get % 200, count = shareCount.Get % 5 + 1;
        var shares = new TaskShares(tasks, count);
        var claimed = new List<int>();
        var ownClaims = Enumerable.Range(0, count).Select(_ => new List<int>()).ToArray();
        // Claimers take one task each, in the order the generated homes give; then share 0's owner takes the rest.
        void Claim(int home, int task)
        {
            claimed.Add(task);
            if (task >= (long)tasks * home / count && task < (long)tasks * (home + 1) / count) ownClaims[home].Add(task);
        }
        foreach (int home in homes.Select(h => (h & int.MaxValue) % count))
        {
            if (shares.TryClaim(home, out int task)) Claim(home, task);
        }
        while (shares.TryClaim(0, out int rest)) Claim(0, rest);
        bool everyOnce = claimed.Order().SequenceEqual(Enumerable.Range(0, tasks));
        // Whatever its owner took of a share came front to back from the share's first task.
        bool frontToBack = ownClaims.Select((own, h) => own.SequenceEqual(Enumerable.Range((int)((long)tasks * h / count), own.Count))).All(x => x);
        return everyOnce && frontToBack;
    }

    [Fact]
    public void AThreadWhoseShareIsEmptyTakesTheOtherSharesFromTheBack()
    {
        var shares = new TaskShares(10, 2);
        var order = new List<int>();
        while (shares.TryClaim(0, out int task)) order.Add(task);
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 9, 8, 7, 6, 5 }, order);
    }

    [Fact]
    public void AFailedTaskLeavesNothingToClaim()
    {
        var shares = new TaskShares(100, 2);
        var ran = new List<int>();
        Assert.Throws<InvalidOperationException>(() => shares.Drain(t =>
        {
            ran.Add(t);
            if (t == 3) throw new InvalidOperationException("task 3 failed");
        }));
        Assert.Equal(new[] { 0, 1, 2, 3 }, ran);
        Assert.False(shares.TryClaim(1, out _));
    }

    [Fact]
    public void ImpossibleCutsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaskShares(10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaskShares(-1, 2));
    }
}
