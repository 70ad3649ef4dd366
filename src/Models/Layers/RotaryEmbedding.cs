using Rollout.Models.Configuration;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// Rotary position embedding in HF's rotate-half layout. The cos/sin tables are computed once (in
/// fp32, as HF does, then cast) and indexed by position; they grow if a position runs past them.
/// Not a module: the tables are derived state, never part of the checkpoint. fp32 inference on the CPU
/// rotates with <see cref="RotaryKernel"/>.
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _inverseFrequencies;
    readonly ScalarType _dtype;
    readonly Device _device;
    readonly bool _kernel;
    Tensor _cos;
    Tensor _sin;

    public RotaryEmbedding(ModelConfig config, ModelOptions options)
    {
        _dtype = options.DType;
        _device = options.Device;
        _kernel = options.FastCpuKernels;
        _inverseFrequencies = InverseFrequencies(config).to(_device);
        (_cos, _sin) = Tables(Math.Max(config.MaxPositionEmbeddings, 1));
    }

    /// <summary>HF's inverse frequencies for the config's rope type (default, linear or llama3).</summary>
    internal static Tensor InverseFrequencies(ModelConfig config)
    {
        int dim = config.HeadDim;
        var exponents = arange(0, dim, 2, ScalarType.Int64).to(ScalarType.Float32) / dim;
        var inv = 1.0 / full_like(exponents, config.RopeTheta).pow(exponents);
        if (config.RopeScaling is not { } s) return inv;
        if (s.Type == "linear") return inv / s.Factor;
        double lowFreqWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        var wavelen = 2 * Math.PI / inv;
        var scaled = where(wavelen > lowFreqWavelen, inv / s.Factor, inv);
        var smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        var smoothed = (1 - smooth) * scaled / s.Factor + smooth * scaled;
        var medium = (wavelen >= highFreqWavelen).logical_and(wavelen <= lowFreqWavelen);
        return where(medium, smoothed, scaled);
    }

    (Tensor Cos, Tensor Sin) Tables(long length)
    {
        using var scope = NewDisposeScope();
        var positions = arange(length, ScalarType.Float32, _device);
        var freqs = outer(positions, _inverseFrequencies);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().to(_dtype).MoveToOuterDisposeScope(), emb.sin().to(_dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Rotates <paramref name="x"/> [T, heads, head_dim] by the angles of <paramref name="positions"/> [T].</summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        if (_kernel && RotaryKernel.Supports(x, positions, _cos, _sin)) return RotaryKernel.Rotate(x, positions, _cos, _sin);
        using var scope = NewDisposeScope();
        var cos = _cos.index_select(0, positions).unsqueeze(1);
        var sin = _sin.index_select(0, positions).unsqueeze(1);
        long half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="projection"/>(<paramref name="x"/>) with its rotary heads rotated in the product itself
    /// (<see cref="Linear.TryForwardRotated"/>), where fused kernels are on and the packed path applies.
    /// </summary>
    public bool TryProjectRotated(Linear projection, Tensor x, Tensor positions, out Tensor output)
    {
        output = null!;
        return _kernel && projection.TryForwardRotated(x, positions, _cos, _sin, out output);
    }

    /// <summary>Grows the tables to cover <paramref name="positions"/>; once per forward pass, before any layer applies them.</summary>
    public void EnsureCovers(Tensor positions)
    {
        long current = _cos.shape[0];
        long needed = positions.max().item<long>() + 1;
        if (needed <= current) return;
        _cos.Dispose();
        _sin.Dispose();
        (_cos, _sin) = Tables(Math.Max(needed, 2 * current));
    }

    public void Dispose()
    {
        _inverseFrequencies.Dispose();
        _cos.Dispose();
        _sin.Dispose();
    }
}
