using MessagePack;

namespace Rollout.Client.Engines;

/// <summary>The body of one <c>POST /rl/generate</c>: one prompt (a group goes to one engine whole), streamed back.</summary>
[MessagePackObject]
internal sealed class RlGenerateRequest
{
    [Key("prompts")] public required int[][] Prompts { get; init; }
    [Key("sampling")] public required RlSampling Sampling { get; init; }
    [Key("stream")] public bool Stream { get; init; }
}
