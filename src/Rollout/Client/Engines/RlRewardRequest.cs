using MessagePack;

namespace Rollout.Client.Engines;

/// <summary>The body of <c>POST /rl/reward</c>: sequences to reward (the answer is the server's <see cref="Server.Rl.RlRewardResponse"/>).</summary>
[MessagePackObject]
internal sealed class RlRewardRequest
{
    [Key("sequences")] public required RlScoreSequence[] Sequences { get; init; }
}
