namespace Rollout.Models.Native;

/// <summary>
/// MKL's packed sgemm (<c>cblas_sgemm_pack</c> / <c>cblas_sgemm_compute</c>) as exported by libtorch's
/// CPU library. A plain sgemm re-packs the weight panel on every call: at the engine's decode batch
/// sizes that copy was a third of the matmul time here (<c>mkl_blas_avx512_sgemm_scopy_right48_ea</c>
/// in a profile). Packing once and computing against the packed weight removes it.
/// </summary>
internal static unsafe class MklPackedGemm
{
    const int RowMajor = 101;
    const int NoTranspose = 111;
    const int Transpose = 112;
    const int Packed = 151;
    const int BMatrix = 162;

    /// <summary>
    /// The batch size the packed layout is chosen for. Any row count may be computed against it;
    /// measured here, a layout for 64 rows made batch-1 and batch-64 products 1.5x faster, one for a
    /// single row none.
    /// </summary>
    const int PackRows = 64;

    static readonly delegate* unmanaged<int, int, int, int, nuint> PackSize =
        (delegate* unmanaged<int, int, int, int, nuint>)LibTorchExports.Find("cblas_sgemm_pack_get_size");
    static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, void> Pack =
        (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, void>)LibTorchExports.Find("cblas_sgemm_pack");
    static readonly delegate* unmanaged<int, int, int, int, int, int, float*, int, float*, int, float, float*, int, void> Compute =
        (delegate* unmanaged<int, int, int, int, int, int, float*, int, float*, int, float, float*, int, void>)LibTorchExports.Find("cblas_sgemm_compute");

    public static bool IsAvailable => PackSize != null && Pack != null && Compute != null;

    /// <summary>Bytes of the packed form of a weight [outFeatures, inFeatures].</summary>
    public static nuint PackedBytes(int outFeatures, int inFeatures) => PackSize(BMatrix, PackRows, outFeatures, inFeatures);

    /// <summary>Packs a row-major weight [outFeatures, inFeatures] (a linear layer's Wᵀ operand) into <paramref name="packed"/>.</summary>
    public static void PackWeight(float* weight, int outFeatures, int inFeatures, float* packed) =>
        Pack(RowMajor, BMatrix, Transpose, PackRows, outFeatures, inFeatures, 1f, weight, inFeatures, packed);

    /// <summary>output [rows, outFeatures] = input [rows, inFeatures] · Wᵀ, with W packed by <see cref="PackWeight"/>.</summary>
    public static void Multiply(float* input, int rows, int inFeatures, float* packed, int outFeatures, float* output) =>
        Compute(RowMajor, NoTranspose, Packed, rows, outFeatures, inFeatures, input, inFeatures, packed, inFeatures, 0f, output, outFeatures);
}
