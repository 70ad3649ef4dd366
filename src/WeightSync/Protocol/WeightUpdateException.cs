namespace Rollout.WeightSync;

/// <summary>
/// An update was refused or failed: a stale version, an unknown name, a wrong shape or dtype, a missing
/// tensor, a checksum mismatch, a broken stream. The engine keeps the weights it had, whole.
/// </summary>
public class WeightUpdateException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Another update is open on the engine: updates go one at a time, so this one was refused before it started.</summary>
public sealed class WeightUpdateBusyException() : WeightUpdateException("another weight update is in progress: one at a time");
