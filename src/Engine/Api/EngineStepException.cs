namespace Rollout.Engine;

/// <summary>
/// A model step failed (for example the device ran out of memory). The requests in the engine at
/// that moment end with this error; the engine itself keeps serving new requests.
/// </summary>
public sealed class EngineStepException(string message, Exception inner) : Exception(message, inner);
