using Rollout.Models.Tokenization;

namespace Rollout.Client;

/// <summary>How a <see cref="RemoteRolloutClient"/> reaches its <c>rollout serve</c> engines, besides the staleness rule.</summary>
public sealed record RemoteRolloutOptions : RolloutClientOptions
{
    /// <summary>The servers' <c>--api-key</c>, sent as a bearer token; null when they take requests without one.</summary>
    public string? ApiKey { get; init; }

    /// <summary>
    /// The servers' <c>--admin-token</c>: ending a step early (<see cref="PartialRollouts"/>) aborts requests
    /// through <c>/rl/abort</c>, an admin endpoint. Not needed otherwise.
    /// </summary>
    public string? AdminToken { get; init; }

    /// <summary>
    /// The served model's vocabulary size: with it, token ids are checked here before anything is sent;
    /// without it, only negative ids are, and the servers refuse the rest.
    /// </summary>
    public int? VocabSize { get; init; }

    /// <summary>The served model's tokenizer, to give trajectories their text; null leaves <see cref="Trajectory.Text"/> null.</summary>
    public ITextTokenizer? Tokenizer { get; init; }
}
