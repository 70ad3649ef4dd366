using Rollout.Models.Configuration;

namespace Rollout.Models.Architectures;

/// <summary>The model's architecture is not one this build implements.</summary>
public sealed class UnsupportedArchitectureException(string architecture, IEnumerable<string> supported)
    : ModelConfigException(
        $"Unsupported architecture '{architecture}'. Supported: {string.Join(", ", supported)}.")
{
    /// <summary>The architecture that was asked for.</summary>
    public string Architecture { get; } = architecture;
}
