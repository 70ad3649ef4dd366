namespace Rollout.WeightSync;

/// <summary>
/// A committed update: the version now live, the SHA-256 digest of all the engine's weights as HF-named
/// tensors (<see cref="WeightDigest"/>), the digest of the tensors the update named, under the names it
/// used, as the engine now holds them (what the sender checks against the digest of what it sent,
/// converted to the engine's dtype), the bytes received, the seconds from the update's start to the commit,
/// and of those the seconds until every byte was staged and checked (the transfer, before the apply).
/// </summary>
public sealed record CommitResult(long Version, string Sha256, string UpdatedSha256, long Bytes, double Seconds, double StagedSeconds);
