using MessagePack;
using Rollout.Client;
using Rollout.Client.Engines;
using Rollout.Server.Rl;

namespace Rollout.Rewards;

/// <summary>
/// The reward model of a <c>rollout serve --reward-model</c> server, over <c>POST /rl/reward</c> in
/// MessagePack: one request per batch. A refusal becomes a <see cref="RolloutServerException"/> with the
/// server's message.
/// </summary>
public sealed class RemoteRewardModel : IRewardModel
{
    // One for every instance made without a client of its own: an HttpClient per instance would keep sockets open past it.
    static readonly HttpClient Shared = new() { Timeout = Timeout.InfiniteTimeSpan };

    readonly HttpClient _http;
    readonly Uri _reward;
    readonly string? _apiKey;

    /// <summary>The reward model served at <paramref name="server"/> (its root URL), with its API key if it has one.</summary>
    public RemoteRewardModel(Uri server, string? apiKey = null, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        _reward = new Uri(server, "rl/reward");
        _apiKey = apiKey;
        _http = http ?? Shared;
    }

    /// <inheritdoc/>
    /// <exception cref="RolloutServerException">The server refused the batch (a bad sequence, no reward model, a wrong key).</exception>
    public async Task<IReadOnlyList<float>> RewardAsync(IReadOnlyList<ScoreRequest> sequences, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var body = new RlRewardRequest
        {
            Sequences = sequences.Select(s => new RlScoreSequence { PromptIds = [.. s.PromptTokenIds], CompletionIds = [.. s.CompletionTokenIds] }).ToArray(),
        };
        using var request = RemoteHttp.Post(_reward, body, _apiKey);
        using var response = await _http.SendAsync(request, cancellationToken);
        await RemoteHttp.ThrowIfFailedAsync(response, _reward, cancellationToken);
        var answer = MessagePackSerializer.Deserialize<RlRewardResponse>(await response.Content.ReadAsByteArrayAsync(cancellationToken), RemoteHttp.MessagePack,
            cancellationToken);
        return answer.Results.Length == sequences.Count ? answer.Results.Select(r => r.Reward).ToArray()
            : throw new IOException($"{_reward} answered {answer.Results.Length} rewards for {sequences.Count} sequences");
    }
}
