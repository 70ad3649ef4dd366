using Rollout.Engine.Sequences;
using TorchSharp;

namespace Rollout.Engine.Requests;

/// <summary>
/// A request that only prefills (scoring, a reward): one sequence of known tokens, scheduled and chunked like
/// any prompt, with prefix caching, whose hidden states the head reads as they are computed; nothing is
/// sampled, and the sequence ends once its last token is computed. The engine loop feeds and completes it.
/// </summary>
internal abstract class PrefillRequest
{
    protected PrefillRequest(string id, int[] tokenIds, int? computeFrom)
    {
        Id = id;
        Sequence = new Sequence(id, 0, tokenIds) { ComputeFrom = computeFrom, Prefill = this };
    }

    public string Id { get; }

    public Sequence Sequence { get; }

    /// <summary>How many of a chunk's fed positions [start, start + count) the head reads: always the chunk's last ones.</summary>
    public abstract int RowsIn(int start, int count);

    /// <summary>Reads the hidden states [rows, hidden] of positions [firstPosition, firstPosition + rows).</summary>
    public abstract void Read(torch.Tensor hidden, int firstPosition);

    /// <summary>Ends the request with what it read, every row of it computed by the weights of <paramref name="weightVersion"/>.</summary>
    public abstract void Complete(long weightVersion);

    /// <summary>Ends the request as cancelled (aborted, or its caller gave up).</summary>
    public abstract void Cancel(CancellationToken cancellationToken = default);

    /// <summary>Ends the request with <paramref name="error"/>.</summary>
    public abstract void Fail(Exception error);

    public override string ToString() => Sequence.ToString();
}

/// <summary>A <see cref="PrefillRequest"/> whose caller awaits a <typeparamref name="TResult"/>.</summary>
internal abstract class PrefillRequest<TResult>(string id, int[] tokenIds, int? computeFrom) : PrefillRequest(id, tokenIds, computeFrom)
{
    // Continuations run off the engine loop: a caller's code must never run inside a step.
    readonly TaskCompletionSource<TResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TResult> Task => _done.Task;

    public sealed override void Complete(long weightVersion) => _done.TrySetResult(Result(weightVersion));

    public sealed override void Cancel(CancellationToken cancellationToken = default) => _done.TrySetCanceled(cancellationToken);

    public sealed override void Fail(Exception error) => _done.TrySetException(error);

    /// <summary>What the caller gets once every row has been read.</summary>
    protected abstract TResult Result(long weightVersion);
}
