namespace Rollout.Engine;

/// <summary>What a pause does with the requests in flight (the server's <c>/rl/pause</c> modes, and weight updates' in-flight policies).</summary>
public enum PauseMode
{
    /// <summary>Stop admitting new requests, let every request in the engine finish, then pause.</summary>
    Wait,

    /// <summary>End every request now with what it has (finish reason <c>abort</c>), then pause.</summary>
    Abort,

    /// <summary>Stop stepping at the next step boundary: requests stay where they are, their KV kept, and go on after resume.</summary>
    Keep,
}
