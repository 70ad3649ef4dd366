using Rollout.Engine;
using Rollout.Models.Layers;
using Rollout.Models.Native;
using TorchSharp;

namespace Rollout.WeightSync.Receiver;

/// <summary>
/// The engine side of weight sync, one per engine, whatever the channel: takes one update at a time
/// (a second is refused while one is open), checks its manifest against the model before staging a
/// byte, and applies a verified update in one step-boundary action. Versions only move forward.
/// </summary>
public sealed class WeightReceiver
{
    readonly LlmEngine _engine;
    readonly WeightTargets _targets;
    readonly SemaphoreSlim _gate = new(1, 1);
    // Held while the served weights change or are hashed, so a digest never mixes two versions; apart
    // from the update gate, so asking for the digest never makes a push find the engine busy.
    readonly SemaphoreSlim _weightsLock = new(1, 1);
    // Staging buffers by tensor name, kept between updates: a second copy of the weights, warm, so an
    // update's bytes land in memory the kernel has already mapped.
    readonly Dictionary<string, torch.Tensor> _staging = new(StringComparer.Ordinal);
    long _version;
    VersionDigest? _digest;

    /// <summary>A receiver for <paramref name="engine"/>, starting from the version it serves.</summary>
    public WeightReceiver(LlmEngine engine)
    {
        _engine = engine;
        _targets = new WeightTargets(engine.Model);
        _version = engine.Metrics.WeightVersion;
    }

    /// <summary>The version of the weights the engine serves (0: as loaded).</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The engine's parameter dtype: what a sender converts to before computing the digest it compares.</summary>
    public torch.ScalarType DType => _engine.Model.Options.DType;

    /// <summary>
    /// Opens an update: checks every tensor it announces and its version (strictly above the current
    /// one; null takes current + 1); nothing is staged when anything is wrong. A manifest refused on its
    /// own (a stale version included) is refused before the gate, so it never makes a concurrent update
    /// find the engine busy.
    /// </summary>
    /// <exception cref="WeightUpdateException">Another update is open, or the manifest is refused.</exception>
    public UpdateSession Begin(UpdateManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (!Enum.IsDefined(manifest.InFlight)) throw new WeightUpdateException($"unknown in-flight policy {manifest.InFlight}");
        _targets.Check(manifest);
        NewVersion(manifest);
        if (!_gate.Wait(0)) throw new WeightUpdateBusyException();
        try
        {
            // Again under the gate: an update that committed since the first check moved the version.
            long version = NewVersion(manifest);
            return new UpdateSession(this, _targets, manifest, version);
        }
        catch
        {
            _gate.Release();
            throw;
        }
    }

    /// <summary>Whether an update is open now (begun, not yet committed or abandoned).</summary>
    public bool UpdateInProgress => _gate.CurrentCount == 0;

    long NewVersion(UpdateManifest manifest)
    {
        long current = Version;
        long version = manifest.Version ?? current + 1;
        return version > current ? version
            : throw new WeightUpdateException($"version {version} is not newer than the engine's {current}: versions only move forward");
    }

    /// <summary>The served version and the SHA-256 of the served weights (<see cref="WeightDigest"/>), computed off the engine loop and kept per version.</summary>
    public async Task<(long Version, string Sha256)> CurrentAsync(CancellationToken cancellationToken = default)
    {
        await _weightsLock.WaitAsync(cancellationToken);
        try
        {
            long version = Version;
            if (_digest is not { } known || known.Version != version)
                _digest = known = new VersionDigest(version, await Task.Run(() => WeightDigest.Compute(_targets.Model.CheckpointTensors()), cancellationToken));
            return (known.Version, known.Sha256);
        }
        finally
        {
            _weightsLock.Release();
        }
    }

    internal async Task ApplyAsync(IReadOnlyList<(torch.Tensor Target, torch.Tensor Source)> copies, long version, InFlightPolicy policy)
    {
        // Off the loop, while the engine still steps: the new weights' packed CPU copies, so the step
        // boundary only copies and swaps.
        var packed = await Task.Run(() => PackAhead(copies));
        void Apply(StepBoundary boundary)
        {
            using (torch.no_grad())
                foreach (var (target, source) in copies) target.copy_(source);
            foreach (var (product, buffer) in packed) product.Install(buffer);
            boundary.PrepareInference();
            boundary.WeightVersion = version;
            if (policy == InFlightPolicy.Recompute) boundary.RecomputeRunning();
        }

        async Task ApplyAndMove()
        {
            await _weightsLock.WaitAsync();
            try
            {
                await _engine.RunAtStepBoundaryAsync(b => { Apply(b); return true; });
                Interlocked.Exchange(ref _version, version);
            }
            finally
            {
                _weightsLock.Release();
            }
        }

        if (policy is InFlightPolicy.Wait or InFlightPolicy.Abort)
        {
            await _engine.PauseAsync(policy == InFlightPolicy.Wait ? PauseMode.Wait : PauseMode.Abort);
            try
            {
                await ApplyAndMove();
            }
            finally
            {
                _engine.Resume();
            }
        }
        else
        {
            await ApplyAndMove();
        }
    }

    internal void Committed(long version, string digest) => _digest = new VersionDigest(version, digest);

    sealed record VersionDigest(long Version, string Sha256);

    /// <summary>
    /// For every packed product whose weight the update touches (whole, or some rows of a fused one):
    /// its new weight assembled from the current one and the staged rows, packed.
    /// </summary>
    List<(CpuPackedLinear Product, NativeBuffer Packed)> PackAhead(IReadOnlyList<(torch.Tensor Target, torch.Tensor Source)> copies)
    {
        var packed = new List<(CpuPackedLinear, NativeBuffer)>();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var product in _targets.Model.PackedProducts())
        {
            var weight = product.Weight;
            var rows = copies.Select(c => (Rows: RowsWithin(c.Target, weight), c.Source)).Where(c => c.Rows is not null).ToList();
            if (rows.Count == 0) continue;
            // A weight sent whole is packed from its staged copy; only a partly sent one is assembled first.
            var candidate = rows is [{ Rows.Count: var count, Source: var whole }] && count == weight.shape[0]
                ? whole.to(weight.dtype)
                : Assemble(weight, rows);
            if (product.PackAhead(candidate) is { } buffer) packed.Add((product, buffer));
        }
        return packed;
    }

    static torch.Tensor Assemble(torch.Tensor weight, List<((long First, long Count)? Rows, torch.Tensor Source)> rows)
    {
        var candidate = weight.detach().clone();
        foreach (var (range, source) in rows) candidate.narrow(0, range!.Value.First, range.Value.Count).copy_(source);
        return candidate;
    }

    /// <summary>The rows of <paramref name="weight"/> that <paramref name="target"/> views, or null when it views none (fp32 CPU tensors only).</summary>
    static unsafe (long First, long Count)? RowsWithin(torch.Tensor target, torch.Tensor weight)
    {
        if (weight.device_type != DeviceType.CPU || weight.dtype != torch.ScalarType.Float32 || target.dtype != weight.dtype
            || target.device_type != DeviceType.CPU || weight.dim() != 2 || target.numel() == 0) return null;
        long start = (long)(TensorData.Bytes(target) - TensorData.Bytes(weight));
        long rowBytes = weight.shape[1] * sizeof(float);
        if (start < 0 || start >= weight.shape[0] * rowBytes) return null;
        return (start / rowBytes, target.shape[0]);
    }

    /// <summary>The staging buffer for <paramref name="spec"/>: the one kept for its name when dtype and shape match, else a new one.</summary>
    internal torch.Tensor StagingBuffer(TensorSpec spec)
    {
        var dtype = WeightDType.Parse(spec.DType, spec.Name);
        if (_staging.TryGetValue(spec.Name, out var kept) && kept.dtype == dtype && kept.shape.SequenceEqual(spec.Shape)) return kept;
        kept?.Dispose();
        return _staging[spec.Name] = torch.empty(spec.Shape, dtype);
    }

    internal void Ended() => _gate.Release();
}
