namespace Rollout.Models.Tests.Kernels;

static class PanelGemmSkip
{
    public const string Reason = "this CPU has neither AVX-512F nor AVX2 with FMA: the panel kernel (PanelGemm) cannot run here, and every product takes libtorch";
}
