using Rollout.Client.Engines;
using Rollout.Client.Runs;
using Rollout.Engine;

namespace Rollout.Client;

/// <summary>
/// A rollout client over an <see cref="LlmEngine"/> in this process, and optionally a reference engine
/// (the frozen model a KL penalty compares with) for <see cref="ScoreModel.Reference"/>. It does not own the
/// engines; trajectories get their text from the policy engine's tokenizer, when it has one.
/// </summary>
public sealed class LocalRolloutClient : RolloutClient
{
    readonly LlmEngine _policy;
    readonly LlmEngine? _reference;

    /// <summary>A client over <paramref name="policy"/>, scoring with <paramref name="reference"/> when asked for the reference model.</summary>
    public LocalRolloutClient(LlmEngine policy, LlmEngine? reference = null, RolloutClientOptions? options = null)
        : base([new LocalEngine(policy ?? throw new ArgumentNullException(nameof(policy)))], options, policy.Tokenizer)
    {
        _policy = policy;
        _reference = reference;
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference model is asked for and this client has none.</exception>
    /// <exception cref="ArgumentException">An empty prompt, a token outside the vocabulary, or a sequence longer than the context; nothing was scored.</exception>
    public override async Task<IReadOnlyList<ScoredSequence>> ScoreAsync(IReadOnlyList<ScoreRequest> sequences, ScoreOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= new ScoreOptions();
        var engine = options.Model == ScoreModel.Policy ? _policy
            : _reference ?? throw new InvalidOperationException("this client has no reference engine: give one to its constructor to score with ScoreModel.Reference");
        for (int i = 0; i < sequences.Count; i++)
        {
            var s = sequences[i] ?? throw new ArgumentException($"sequences[{i}] is null", nameof(sequences));
            try
            {
                engine.ValidateScore(s.PromptTokenIds, s.CompletionTokenIds, options.Mode, options.Sampling);
            }
            catch (ArgumentException e)
            {
                throw IndexedArgument.Error(nameof(sequences), i, e);
            }
        }
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Lifetime);
        var results = await AllOrNothing.RunAsync(sequences.Count,
            (i, ct) => engine.ScoreAsync(sequences[i].PromptTokenIds, sequences[i].CompletionTokenIds, options.Mode, options.Sampling, ct), lifetime.Token);
        if (engine == _policy) foreach (var r in results) Watermark.Observe([r.WeightVersion]);
        return [.. results.Select(r => new ScoredSequence(r.Logprobs, r.WeightVersion))];
    }
}
