using Rollout.WeightSync.Channels.Nccl;
using Xunit;

namespace Rollout.TestSupport;

/// <summary>
/// A fact that needs libnccl, libcudart and a CUDA device, skipped with the reason <see cref="NcclLibrary"/>
/// gives otherwise; or, with <c>available: false</c>, a fact about a machine without them, skipped where NCCL loads.
/// </summary>
public sealed class RequiresNcclFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> unless NCCL's availability here is <paramref name="available"/>.</summary>
    public RequiresNcclFactAttribute(bool available = true)
    {
        bool loads = NcclLibrary.TryLoad(out string reason);
        if (available && !loads) Skip = $"NCCL is unavailable: {reason}";
        if (!available && loads) Skip = "NCCL loads here: this fact is about a machine without it";
    }
}
