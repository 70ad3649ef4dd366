namespace Rollout.Engine;

/// <summary>A request accepted by <see cref="LlmEngine.AddRequest"/>: its id and the stream of its outputs.</summary>
public sealed class GenerationRequest
{
    internal GenerationRequest(string requestId, IAsyncEnumerable<RequestOutput> outputs)
    {
        RequestId = requestId;
        Outputs = outputs;
    }

    /// <summary>The request's id (for <see cref="LlmEngine.Abort"/>).</summary>
    public string RequestId { get; }

    /// <summary>
    /// Cumulative snapshots as the completions grow; the last one has <see cref="RequestOutput.Finished"/>
    /// set. Read it once. If a step fails, it throws an <see cref="EngineStepException"/>.
    /// </summary>
    public IAsyncEnumerable<RequestOutput> Outputs { get; }

    /// <summary>Reads the stream to its end and returns the final snapshot.</summary>
    public async Task<RequestOutput> CompletionAsync(CancellationToken cancellationToken = default)
    {
        RequestOutput? last = null;
        await foreach (var output in Outputs.WithCancellation(cancellationToken)) last = output;
        return last ?? throw new InvalidOperationException($"request {RequestId} ended without output");
    }
}
