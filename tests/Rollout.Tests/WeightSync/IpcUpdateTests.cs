using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Ipc;
using Rollout.WeightSync.Receiver;
using Rollout.TestSupport;

namespace Rollout.Tests.WeightSync;

/// <summary>Updates over shared memory and a Unix domain socket, and the segments they leave (none).</summary>
public class IpcUpdateTests
{
    static string[] Segments() => Directory.EnumerateFiles("/dev/shm", $"rollout-weights-{Environment.ProcessId}-*").ToArray();

    [Fact]
    public async Task An_update_over_ipc_serves_the_new_weights_and_leaves_no_segment()
    {
        using var s = new UpdateScenario();
        var (b, receiver) = (s.B, s.Receiver);
        int[] expected = WeightSets.GreedyOf(b, WeightSets.Prompt);
        string socket = Path.Combine(TinyModels.TempFolder(), "weights.sock");
        await using var listener = new IpcWeightListener(receiver, socket);

        var outcomes = await WeightPusher.PushAsync(WeightSets.Tensors(b), [new IpcWeightSender(socket)], new PushOptions(), receiver.DType);

        Assert.True(outcomes[0].Succeeded, outcomes[0].Error?.Message);
        Assert.Equal(expected, s.Greedy());
        Assert.Empty(Segments());
    }

    [Fact]
    public async Task A_refused_update_over_ipc_says_why_changes_nothing_and_leaves_no_segment()
    {
        using var s = new UpdateScenario();
        var (b, receiver) = (s.B, s.Receiver);
        int[] before = s.Greedy();
        string socket = Path.Combine(TinyModels.TempFolder(), "weights.sock");
        await using var listener = new IpcWeightListener(receiver, socket);
        var missing = WeightSets.Tensors(b).Where(t => t.Key != "model.norm.weight").ToDictionary();

        var e = await Assert.ThrowsAsync<WeightUpdateException>(() => new IpcWeightSender(socket).PushAsync(missing, new PushOptions()));

        Assert.Contains("model.norm.weight", e.Message);
        Assert.Equal(0, receiver.Version);
        Assert.Equal(before, s.Greedy());
        Assert.Empty(Segments());
    }

    [Fact]
    public void Segments_of_a_process_that_died_are_removed()
    {
        using var child = System.Diagnostics.Process.Start("bash", ["-c", "exit 0"])!;
        child.WaitForExit();
        string orphan = $"/dev/shm/rollout-weights-{child.Id}-{Guid.NewGuid():N}";
        File.WriteAllBytes(orphan, new byte[64]);
        Assert.True(SharedMemorySegment.RemoveOrphans() >= 1);
        Assert.False(File.Exists(orphan));
    }
}
