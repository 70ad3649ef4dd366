using System.IO.Hashing;
using Rollout.Models.Native;
using TorchSharp;

namespace Rollout.WeightSync.Receiver;

/// <summary>
/// One tensor of an update being received: a CPU tensor of the announced dtype and shape (the
/// receiver's staging buffer for that name, kept between updates), filled in order, and checked
/// against the announced checksum once complete. Bytes that arrive through <see cref="Write"/> are
/// hashed as they are staged; a tensor staged whole is hashed from its staging memory.
/// </summary>
internal sealed unsafe class StagedTensor(TensorSpec spec, torch.Tensor buffer)
{
    // Small enough to stay in the core's cache between the copy and the hash.
    internal const int HashSlice = 256 << 10;

    // Read once: a stream of small writes would otherwise ask libtorch for it on every one.
    readonly byte* _data = spec.ByteLength == 0 ? null : TensorData.Bytes(buffer);

    // The hash of the bytes written so far: writes come in order, so once complete it is the tensor's.
    readonly XxHash3 _written = new();

    // Staged whole by libtorch, so never seen by _written.
    bool _copiedWhole;

    public TensorSpec Spec { get; } = spec;

    public torch.Tensor Tensor { get; } = buffer;

    public long Received { get; private set; }

    public bool Complete => Received == Spec.ByteLength;

    /// <summary>Appends bytes at <paramref name="offset"/>, which must be where the last write ended.</summary>
    public void Write(long offset, ReadOnlySpan<byte> bytes)
    {
        if (offset != Received)
            throw new WeightUpdateException($"'{Spec.Name}': bytes at offset {offset}, but {Received} of them have arrived (writes come in order)");
        if (bytes.Length > Spec.ByteLength - Received)
            throw new WeightUpdateException($"'{Spec.Name}': {Received + bytes.Length} bytes sent, {Spec.ByteLength} announced");
        if (bytes.IsEmpty) return;
        // Each slice is hashed as staged right after it is copied, while still in cache: one pass over
        // memory instead of a second one at the commit, and the hash covers what will be applied.
        var staging = new Span<byte>(_data + Received, bytes.Length);
        for (int at = 0; at < bytes.Length; at += HashSlice)
        {
            int length = Math.Min(HashSlice, bytes.Length - at);
            var slice = staging.Slice(at, length);
            bytes.Slice(at, length).CopyTo(slice);
            _written.Append(slice);
        }
        Received += bytes.Length;
    }

    /// <summary>Copies a whole tensor of the announced shape in (any device, the announced dtype): the in-process path.</summary>
    public void Stage(torch.Tensor source)
    {
        if (!source.shape.SequenceEqual(Spec.Shape) || WeightDType.Name(source.dtype) != Spec.DType)
            throw new WeightUpdateException($"'{Spec.Name}': a [{string.Join(", ", source.shape)}] {source.dtype} tensor, but [{string.Join(", ", Spec.Shape)}] {Spec.DType} was announced");
        using (torch.no_grad()) Tensor.copy_(source);
        Received = Spec.ByteLength;
        _copiedWhole = true;
    }

    /// <summary>Throws unless every byte arrived and they hash to the announced checksum.</summary>
    public void Verify()
    {
        if (!Complete) throw new WeightUpdateException($"'{Spec.Name}': {Received} of {Spec.ByteLength} bytes arrived");
        ulong checksum = _copiedWhole ? Checksum(_data, Spec.ByteLength) : _written.GetCurrentHashAsUInt64();
        if (checksum != Spec.Checksum)
            throw new WeightUpdateException($"'{Spec.Name}': checksum {checksum:x16} of the received bytes, {Spec.Checksum:x16} announced");
    }

    /// <summary>The XxHash3 of <paramref name="length"/> bytes at <paramref name="data"/>: what a sender announces.</summary>
    public static ulong Checksum(byte* data, long length)
    {
        var hash = new XxHash3();
        for (long at = 0; at < length; at += int.MaxValue)
            hash.Append(new ReadOnlySpan<byte>(data + at, (int)Math.Min(int.MaxValue, length - at)));
        return hash.GetCurrentHashAsUInt64();
    }
}
