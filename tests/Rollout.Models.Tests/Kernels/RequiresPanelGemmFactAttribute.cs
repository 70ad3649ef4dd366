using Rollout.Models.Kernels;
using Xunit;

namespace Rollout.Models.Tests.Kernels;

/// <summary>A fact about the panel kernel itself (not its fallback): skipped, with the reason printed, on a CPU it cannot run on.</summary>
public sealed class RequiresPanelGemmFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> where <see cref="PanelGemm"/> cannot run.</summary>
    public RequiresPanelGemmFactAttribute()
    {
        if (!PanelGemm.IsSupported) Skip = PanelGemmSkip.Reason;
    }
}
