namespace Rollout.Examples.Rlhf;

/// <summary>How the loop pushes its weights to the engine after every step.</summary>
internal enum WeightChannel
{
    /// <summary>Straight from the trainer's tensors into the engine's staging, in this process.</summary>
    Inproc,

    /// <summary>A shared-memory segment and a Unix socket, as to an engine in another process on this host.</summary>
    Ipc,

    /// <summary><c>POST /rl/weights</c> on a <c>rollout serve</c> endpoint; the rollouts then come over <c>/rl/generate</c> too.</summary>
    Http,
}
