using FsCheck.Xunit;
using Rollout.Models.Kernels;

namespace Rollout.Models.Tests.Kernels;

/// <summary>A property of the AVX-512 panel kernel: skipped, with the reason printed, on a CPU without AVX-512.</summary>
public sealed class RequiresAvx512PropertyAttribute : PropertyAttribute
{
    /// <summary>Sets <see cref="Xunit.FactAttribute.Skip"/> where <see cref="PanelGemm"/> cannot run.</summary>
    public RequiresAvx512PropertyAttribute()
    {
        if (!PanelGemm.IsSupported) Skip = "this CPU has no AVX-512F: the panel kernel (PanelGemm) cannot run here";
    }
}
