using FsCheck.Xunit;
using Rollout.Models.Kernels;

namespace Rollout.Models.Tests.Kernels;

/// <summary>A property of the panel kernel itself: skipped, with the reason printed, on a CPU it cannot run on.</summary>
public sealed class RequiresPanelGemmPropertyAttribute : PropertyAttribute
{
    /// <summary>Sets <see cref="Xunit.FactAttribute.Skip"/> where <see cref="PanelGemm"/> cannot run.</summary>
    public RequiresPanelGemmPropertyAttribute()
    {
        if (!PanelGemm.IsSupported) Skip = PanelGemmSkip.Reason;
    }
}
