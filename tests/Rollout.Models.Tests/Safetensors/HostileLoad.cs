using Rollout.Models.Checkpoints;
using static TorchSharp.torch;

namespace Rollout.Models.Tests.Safetensors;

/// <summary>What a loader made of a hostile file: what it loaded, or the refusal its API documents.</summary>
internal sealed record LoadOutcome<T>(T? Loaded, CheckpointFormatException? Refusal) where T : class
{
    public override string ToString() => Refusal is { } e ? $"refused: {e.Message}" : "loaded";
}

/// <summary>Runs a load of a hostile file under a time bound, so a hang fails the test rather than stalling the run.</summary>
internal static class HostileLoad
{
    /// <summary>Hundreds of times what a file of a few hundred bytes takes, so only a hang or runaway loop trips it.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    static HostileLoad()
    {
        // The first tensor loads libtorch; that must not count against the first file's bound.
        empty(0).Dispose();
    }

    /// <summary>
    /// Runs <paramref name="load"/> on a thread of its own (a starved thread pool must not look like a hang).
    /// A <see cref="CheckpointFormatException"/> is a refusal; any other exception is rethrown as it was.
    /// </summary>
    /// <exception cref="TimeoutException"><paramref name="load"/> ran past <see cref="Bound"/>.</exception>
    public static LoadOutcome<T> Run<T>(Func<T> load) where T : class
    {
        var task = Task.Factory.StartNew(load, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (Task.WaitAny([task], Bound) < 0)
            throw new TimeoutException($"loading a {typeof(T).Name} did not finish within {Bound.TotalSeconds} s");
        try
        {
            return new LoadOutcome<T>(task.GetAwaiter().GetResult(), null);
        }
        catch (CheckpointFormatException e)
        {
            return new LoadOutcome<T>(null, e);
        }
    }
}
