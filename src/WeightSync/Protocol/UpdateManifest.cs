namespace Rollout.WeightSync;

/// <summary>
/// What an update will send, before any byte of it: the version it installs (null: the engine's current
/// one + 1), whether it names every tensor (full) or a subset (partial), what happens to requests in
/// flight, and every tensor.
/// </summary>
public sealed record UpdateManifest(long? Version, bool Partial, InFlightPolicy InFlight, IReadOnlyList<TensorSpec> Tensors);
