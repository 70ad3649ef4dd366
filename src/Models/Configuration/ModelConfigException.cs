namespace Rollout.Models.Configuration;

/// <summary>A model configuration is missing, malformed or describes something this build cannot run.</summary>
public class ModelConfigException(string message, Exception? inner = null) : Exception(message, inner);
