using Xunit;

namespace Rollout.TestSupport;

/// <summary>A fact that needs node and the npm reference data; skipped with the reason printed otherwise.</summary>
public sealed class RequiresNodeFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when node cannot run here.</summary>
    public RequiresNodeFactAttribute()
    {
        if (NodeRunner.UnavailableReason is { } reason) Skip = reason;
    }
}
