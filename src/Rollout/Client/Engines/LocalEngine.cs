using System.Runtime.CompilerServices;
using Rollout.Engine;
using Rollout.Engine.Sampling;

namespace Rollout.Client.Engines;

/// <summary>An <see cref="LlmEngine"/> in this process. It does not own the engine: whoever made it disposes it.</summary>
internal sealed class LocalEngine(LlmEngine engine) : IRolloutEngine
{
    public void Validate(IReadOnlyList<int> prompt, SamplingParams sampling) => engine.Validate(prompt, sampling);

    public async IAsyncEnumerable<EngineCompletion> GenerateAsync(IReadOnlyList<int> prompt, SamplingParams sampling, CancellationToken endEarly,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = engine.AddRequest(prompt, sampling);
        try
        {
            // Registered once the request exists, so an end that came before still reaches it.
            await using var abortEarly = endEarly.Register(() => engine.Abort(request.RequestId));
            await using var abortOnCancel = cancellationToken.Register(() => engine.Abort(request.RequestId));
            var sent = new bool[sampling.N];
            await foreach (var output in request.Outputs)
            {
                // Once cancelled, read on without yielding: the stream ends when the engine has applied the abort.
                if (cancellationToken.IsCancellationRequested) continue;
                foreach (var completion in output.Outputs)
                {
                    if (!completion.Finished || sent[completion.Index]) continue;
                    sent[completion.Index] = true;
                    yield return new EngineCompletion(completion.Index, completion.TokenIds, completion.Logprobs ?? [], completion.WeightVersions,
                        completion.FinishReason!, completion.SupportSizes, completion.SupportIds);
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            // A reader that stops early leaves nothing running (aborting a finished request does nothing).
            engine.Abort(request.RequestId);
        }
    }
}
