using System.Diagnostics;
using Rollout.Engine;
using TorchSharp;

namespace Rollout.WeightSync.Receiver;

/// <summary>
/// One update in progress on a <see cref="WeightReceiver"/>: its manifest checked, its bytes staged off
/// the engine loop, then committed all at once or abandoned. Disposing an uncommitted session aborts it:
/// the staging is freed and the engine never saw any of it.
/// </summary>
public sealed class UpdateSession : IDisposable
{
    readonly WeightReceiver _receiver;
    readonly WeightTargets _targets;
    readonly Dictionary<string, StagedTensor> _staged = new(StringComparer.Ordinal);
    readonly long _started = Stopwatch.GetTimestamp();
    bool _ended;

    internal UpdateSession(WeightReceiver receiver, WeightTargets targets, UpdateManifest manifest, long version)
    {
        _receiver = receiver;
        _targets = targets;
        Manifest = manifest;
        Version = version;
        try
        {
            foreach (var spec in manifest.Tensors) _staged.Add(spec.Name, new StagedTensor(spec, receiver.StagingBuffer(spec)));
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>The manifest, as checked.</summary>
    public UpdateManifest Manifest { get; }

    /// <summary>The version this update installs.</summary>
    public long Version { get; }

    /// <summary>Appends bytes of one tensor; writes of a tensor come in order.</summary>
    /// <exception cref="WeightUpdateException">An unknown name, an offset out of order, more bytes than announced.</exception>
    public void Write(string name, long offset, ReadOnlySpan<byte> bytes) => Tensor(name).Write(offset, bytes);

    /// <summary>Stages a whole tensor straight from the trainer's memory (the in-process channel: no serialisation).</summary>
    public void Stage(string name, torch.Tensor source) => Tensor(name).Stage(source);

    /// <summary>
    /// Checks that every tensor arrived whole with its checksum, then applies them all at one step
    /// boundary under the manifest's in-flight policy and moves the engine to <see cref="Version"/>.
    /// Returns once the new weights are live, with the digests. On any failure the engine keeps the
    /// weights it had.
    /// </summary>
    public async Task<CommitResult> CommitAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        try
        {
            await Task.WhenAll(_staged.Values.Select(t => Task.Run(t.Verify, cancellationToken)));
            double staged = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            cancellationToken.ThrowIfCancellationRequested();
            var copies = _staged.Values.Select(t => (Target: _targets[t.Spec.Name], Source: t.Tensor)).ToArray();
            await _receiver.ApplyAsync(copies, Version, Manifest.InFlight);
            // The weights cannot change again before the session ends: the digests need no engine step.
            var all = _targets.Model.CheckpointTensors();
            string digest = await Task.Run(() => WeightDigest.Compute(all), CancellationToken.None);
            // A full update under HF names hashes the same tensors under the same names: one digest serves both.
            string updatedDigest = _staged.Count == all.Count && _staged.Keys.All(all.ContainsKey) ? digest
                : await Task.Run(() => WeightDigest.Compute(_staged.Keys.Select(n => KeyValuePair.Create(n, _targets[n]))), CancellationToken.None);
            _receiver.Committed(Version, digest);
            return new CommitResult(Version, digest, updatedDigest, Manifest.Tensors.Sum(t => t.ByteLength), Stopwatch.GetElapsedTime(_started).TotalSeconds, staged);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Abandons the update if it was not committed: staging freed, engine untouched.</summary>
    public void Dispose() => Release();

    StagedTensor Tensor(string name)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        return _staged.TryGetValue(name, out var staged) ? staged : throw new WeightUpdateException($"'{name}' is not in this update's manifest");
    }

    void Release()
    {
        if (_ended) return;
        _ended = true;
        _receiver.Ended();
    }
}
