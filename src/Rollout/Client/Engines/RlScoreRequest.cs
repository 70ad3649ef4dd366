using MessagePack;

namespace Rollout.Client.Engines;

/// <summary>The body of <c>POST /rl/score</c>: completions to score given their prompts, by the policy or the reference model (the answer is the server's <see cref="Server.Rl.RlScoreResponse"/>).</summary>
[MessagePackObject]
internal sealed class RlScoreRequest
{
    [Key("sequences")] public required RlScoreSequence[] Sequences { get; init; }
    [Key("model")] public required string Model { get; init; }
    [Key("logprobs_mode")] public required string LogprobsMode { get; init; }
    [Key("sampling")] public RlSampling? Sampling { get; init; }
}

/// <summary>A prompt and the completion tokens to score.</summary>
[MessagePackObject]
internal sealed class RlScoreSequence
{
    [Key("prompt_ids")] public required int[] PromptIds { get; init; }
    [Key("completion_ids")] public required int[] CompletionIds { get; init; }
}
