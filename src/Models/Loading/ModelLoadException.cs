namespace Rollout.Models.Loading;

/// <summary>A model path does not exist or holds no loadable model.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
