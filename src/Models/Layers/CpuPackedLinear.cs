using Rollout.Models.BatchInvariant;
using Rollout.Models.Kernels;
using Rollout.Models.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Models.Layers;

/// <summary>
/// y = x Wᵀ + b, where fp32 inference on the CPU multiplies by a copy of W packed once into column
/// panels (<see cref="PanelGemm"/>) instead of letting libtorch's MKL re-pack the weight on every call.
/// On the products of a decode step this is faster than MKL's own packed products at batch 8 to 64 and
/// about as fast at batch 1, and MKL's products without packing were slower still than its packed ones
/// (figures in docs/performance-log.md). The copy costs the weight's memory once more and is made when
/// an engine starts (<see cref="Prepare"/>) or at the first such call. It follows the weight:
/// libtorch's version counter moves on every in-place change, and a moved counter re-packs before the
/// next product, so a training step or weight update in the same process is never multiplied stale.
/// The packed product can also finish with the pass that would follow it (<see cref="ForwardAdd"/>,
/// <see cref="TryForwardSwiGlu"/>, <see cref="TryForwardRotated"/>): at batch 64 those passes ran on
/// one thread between the products.
/// Gradient mode, other dtypes and devices take <c>nn.functional.linear</c>; so do CPUs without AVX2 and FMA.
/// </summary>
internal sealed unsafe class CpuPackedLinear : IDisposable
{
    readonly Tensor _weight;
    readonly Tensor? _bias;
    readonly bool _enabled;
    readonly bool _batchInvariant;
    readonly PanelLayout _layout;
    readonly int _out;
    readonly int _in;
    readonly Lock _gate = new();
    NativeBuffer? _packed;
    long _packedVersion = -1;

    /// <param name="weight">[out, in], row-major.</param>
    /// <param name="bias">[out], or null.</param>
    /// <param name="pack">Whether CPU fp32 inference may use a packed copy.</param>
    /// <param name="batchInvariant">Whether products take <see cref="InvariantLinear"/>, in inference and training (<see cref="CpuKernels.BatchInvariant"/>).</param>
    /// <param name="layout">
    /// How the packed copy orders the rows: <see cref="PanelLayout.GateUp"/> for <see cref="TryForwardSwiGlu"/>
    /// (<see cref="Forward"/> then takes the plain product), <see cref="PanelLayout.Rotary"/> for
    /// <see cref="TryForwardRotated"/>. A paired layout needs no bias and a weight it fits; otherwise the
    /// products are not packed.
    /// </param>
    public CpuPackedLinear(Tensor weight, Tensor? bias, bool pack, PanelLayout layout = default, bool batchInvariant = false)
    {
        _batchInvariant = batchInvariant;
        _weight = weight;
        _bias = bias;
        _out = (int)weight.shape[0];
        _in = (int)weight.shape[1];
        _layout = layout;
        _enabled = pack && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32
            && PanelGemm.IsSupported && TensorVersion.IsAvailable && layout.Fits(_out) && (layout.Group == 1 || bias is null);
    }

    /// <summary>Whether the last product went through the packed copy (for tests and benchmarks).</summary>
    public bool LastUsedPacked { get; private set; }

    public Tensor Forward(Tensor input)
    {
        if (_batchInvariant && InvariantLinear.Fits(input, _weight, _bias)) return InvariantLinear.Apply(input, _weight, _bias);
        if (!Packs(input, _layout.HalvesOutput)) return nn.functional.linear(input, _weight, _bias);
        using var scope = NewDisposeScope();
        var rows = input.reshape(-1, _in).contiguous();
        var output = empty([rows.shape[0], _out], ScalarType.Float32, input.device);
        Multiply(rows, output, PanelEpilogue.Store);
        if (_bias is not null) output.add_(_bias);
        long[] shape = [.. input.shape[..^1], _out];
        return output.view(shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="residual"/> + x Wᵀ + b. The packed product adds into <paramref name="residual"/>
    /// itself and returns it (the residual add costs no pass of its own); otherwise the sum is a new tensor.
    /// </summary>
    public Tensor ForwardAdd(Tensor input, Tensor residual)
    {
        if (!Packs(input, _layout.HalvesOutput) || !CpuFloatKernels.Accept(residual) || !residual.is_contiguous()
            || residual.numel() != input.numel() / _in * _out || residual.shape[^1] != _out)
            return residual + Forward(input);
        using (var scope = NewDisposeScope()) Multiply(input.reshape(-1, _in).contiguous(), residual, PanelEpilogue.Accumulate);
        if (_bias is not null) residual.add_(_bias);
        return residual;
    }

    /// <summary>
    /// silu(x W_gateᵀ) * (x W_upᵀ), [.., out / 2], in one packed product, for a gated layer whose packed
    /// path applies to <paramref name="input"/>; false otherwise.
    /// </summary>
    public bool TryForwardSwiGlu(Tensor input, out Tensor output)
    {
        output = null!;
        if (!Packs(input, !_layout.HalvesOutput)) return false;
        using var scope = NewDisposeScope();
        var rows = input.reshape(-1, _in).contiguous();
        var activated = empty([rows.shape[0], _out / 2], ScalarType.Float32, input.device);
        Multiply(rows, activated, PanelEpilogue.SwiGlu);
        long[] shape = [.. input.shape[..^1], _out / 2];
        output = activated.view(shape).MoveToOuterDisposeScope();
        return true;
    }

    bool Packs(Tensor input, bool refused)
    {
        bool packed = _enabled && !refused && CpuFloatKernels.Accept(input) && input.dim() >= 1 && input.shape[^1] == _in;
        LastUsedPacked = packed;
        return packed;
    }

    /// <summary>
    /// x Wᵀ [.., out] with the first rows of a <see cref="PanelLayout.Rotary"/> weight's output rotated by
    /// <paramref name="positions"/> (int64 [T], one a row of <paramref name="input"/> [T, in]) through the
    /// tables <paramref name="cos"/> and <paramref name="sin"/> [length, head_dim], as
    /// <see cref="RotaryKernel"/> would rotate them after the product; false where the packed path does
    /// not apply.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A position is negative or past the tables.</exception>
    public bool TryForwardRotated(Tensor input, Tensor positions, Tensor cos, Tensor sin, out Tensor output)
    {
        output = null!;
        if (!_layout.Rotates || input.dim() != 2 || cos.dim() != 2 || cos.shape[1] != 2 * _layout.HalfHead || !RotaryKernel.SupportsTables(positions, input.shape[0], cos, sin) || !Packs(input, refused: false)) return false;
        RotaryKernel.CheckPositions(positions, cos.shape[0]);
        using var scope = NewDisposeScope();
        var rows = input.contiguous();
        var rotated = empty([rows.shape[0], _out], ScalarType.Float32, input.device);
        var angles = new RotaryAngles(TensorData.Longs(positions), TensorData.Floats(cos), TensorData.Floats(sin), (int)cos.shape[1]);
        Multiply(rows, rotated, PanelEpilogue.Rotate, angles);
        output = rotated.MoveToOuterDisposeScope();
        return true;
    }

    void Multiply(Tensor rows, Tensor output, PanelEpilogue epilogue, RotaryAngles angles = default)
    {
        lock (_gate)
        {
            var weights = Fresh();
            fixed (byte* x = rows.bytes)
            fixed (byte* y = output.bytes)
                PanelGemm.Multiply((float*)x, (int)rows.shape[0], _in, weights.Floats, _out, (float*)y, _layout, epilogue, angles);
        }
    }

    /// <summary>The weight this product multiplies by.</summary>
    public Tensor Weight => _weight;

    /// <summary>
    /// The packed form of <paramref name="weight"/> (this product's shape, fp32 on the CPU), made now
    /// and off to the side: a weight update packs its new weights while the engine still steps, then
    /// <see cref="Install"/>s them at the step boundary. Null when this product does not pack.
    /// </summary>
    public NativeBuffer? PackAhead(Tensor weight)
    {
        if (!_enabled) return null;
        if (!weight.shape.SequenceEqual(_weight.shape)) throw new ArgumentException($"a [{string.Join(", ", weight.shape)}] weight cannot replace a [{_out}, {_in}] one", nameof(weight));
        var packed = new NativeBuffer((nuint)PanelGemm.PackedFloats(_out, _in) * sizeof(float));
        using var contiguous = weight.contiguous();
        fixed (byte* w = contiguous.bytes) PanelGemm.Pack((float*)w, _out, _in, packed.Floats, _layout);
        return packed;
    }

    /// <summary>Takes a <see cref="PackAhead"/> form of the weight just copied into place, instead of re-packing it before the next product.</summary>
    public void Install(NativeBuffer packed)
    {
        lock (_gate)
        {
            _packed?.Dispose();
            _packed = packed;
            _packedVersion = TensorVersion.Of(_weight);
        }
    }

    /// <summary>Packs now, if this product packs at all, so the first inference call does not pay for it.</summary>
    public void Prepare()
    {
        if (!_enabled) return;
        lock (_gate) Fresh();
    }

    NativeBuffer Fresh()
    {
        long version = TensorVersion.Of(_weight);
        if (_packed is not null && version == _packedVersion) return _packed;
        _packed?.Dispose();
        _packed = new NativeBuffer((nuint)PanelGemm.PackedFloats(_out, _in) * sizeof(float));
        using var weight = _weight.contiguous();
        fixed (byte* w = weight.bytes) PanelGemm.Pack((float*)w, _out, _in, _packed.Floats, _layout);
        _packedVersion = version;
        return _packed;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _packed?.Dispose();
            _packed = null;
        }
    }
}
