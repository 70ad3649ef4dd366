using Rollout.Models.Configuration;
using Rollout.Models.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// Rotary position embedding in HF's rotate-half layout. The cos/sin tables are computed once (in
/// fp32, as HF does, then cast) and indexed by position; they grow if a position runs past them. Tables
/// outgrown are kept until the embedding is disposed: a forward pass on another thread (a second engine
/// or a trainer on the same model) may still be reading them. Not a module: the tables are derived state,
/// never part of the checkpoint. fp32 inference on the CPU rotates with <see cref="RotaryKernel"/>.
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _inverseFrequencies;
    readonly ScalarType _dtype;
    readonly Device _device;
    readonly bool _kernel;
    readonly Lock _growing = new();
    readonly List<Tables> _outgrown = [];
    // Replaced whole, so a reader's cos and sin always cover the same positions.
    volatile Tables _tables;

    sealed record Tables(Tensor Cos, Tensor Sin);

    public RotaryEmbedding(ModelConfig config, ModelOptions options)
    {
        _dtype = options.DType;
        _device = options.Device;
        _kernel = options.FastCpuKernels;
        _inverseFrequencies = InverseFrequencies(config).to(_device);
        _tables = Compute(Math.Max(config.MaxPositionEmbeddings, 1));
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

    Tables Compute(long length)
    {
        using var scope = NewDisposeScope();
        var positions = arange(length, ScalarType.Float32, _device);
        var freqs = outer(positions, _inverseFrequencies);
        var emb = cat([freqs, freqs], -1);
        return new Tables(emb.cos().to(_dtype).MoveToOuterDisposeScope(), emb.sin().to(_dtype).MoveToOuterDisposeScope());
    }

    /// <summary>The tables now in use (for tests).</summary>
    internal (Tensor Cos, Tensor Sin) CurrentTables => (_tables.Cos, _tables.Sin);

    /// <summary>Rotates <paramref name="x"/> [T, heads, head_dim] by the angles of <paramref name="positions"/> [T].</summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        var tables = _tables;
        if (_kernel && RotaryKernel.Supports(x, positions, tables.Cos, tables.Sin)) return RotaryKernel.Rotate(x, positions, tables.Cos, tables.Sin);
        using var scope = NewDisposeScope();
        var cos = tables.Cos.index_select(0, positions).unsqueeze(1);
        var sin = tables.Sin.index_select(0, positions).unsqueeze(1);
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
        var tables = _tables;
        return _kernel && projection.TryForwardRotated(x, positions, tables.Cos, tables.Sin, out output);
    }

    /// <summary>Grows the tables to cover <paramref name="positions"/>; once per forward pass, before any layer applies them.</summary>
    public void EnsureCovers(Tensor positions)
    {
        long needed = positions.max().item<long>() + 1;
        if (needed <= _tables.Cos.shape[0]) return;
        lock (_growing)
        {
            var current = _tables;
            if (needed <= current.Cos.shape[0]) return;
            _outgrown.Add(current);
            _tables = Compute(Math.Max(needed, 2 * current.Cos.shape[0]));
        }
    }

    public void Dispose()
    {
        _inverseFrequencies.Dispose();
        _tables.Cos.Dispose();
        _tables.Sin.Dispose();
        foreach (var (cos, sin) in _outgrown)
        {
            cos.Dispose();
            sin.Dispose();
        }
    }
}
