namespace Rollout.Models.Checkpoints;

/// <summary>A checkpoint file is malformed, truncated, hostile or of an unsupported kind.</summary>
public sealed class CheckpointFormatException(string message, Exception? inner = null) : Exception(message, inner);
