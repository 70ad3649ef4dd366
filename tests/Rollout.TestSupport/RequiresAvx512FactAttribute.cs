using System.Runtime.Intrinsics.X86;
using Xunit;

namespace Rollout.TestSupport;

/// <summary>
/// A fact about the packed AVX-512 kernels' own behaviour (not their fallback); skipped with the reason
/// printed on a CPU without AVX-512, where the kernels are off and every product takes libtorch.
/// </summary>
public sealed class RequiresAvx512FactAttribute : FactAttribute
{
    /// <summary>Skips unless the CPU has AVX-512F.</summary>
    public RequiresAvx512FactAttribute()
    {
        if (!Avx512F.IsSupported) Skip = "this CPU has no AVX-512: the packed kernels are off and every product takes libtorch";
    }
}
