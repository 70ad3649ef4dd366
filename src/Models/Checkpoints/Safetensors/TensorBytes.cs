using TorchSharp;

namespace Rollout.Models.Checkpoints.Safetensors;

/// <summary>
/// Copies between raw memory and a tensor's storage. TorchSharp exposes storage only as a
/// <see cref="Span{T}"/> (<see cref="torch.Tensor.bytes"/>), capped at 2 GiB, while one embedding
/// matrix can exceed that; so large tensors are copied through views of at most
/// <see cref="MaxChunkBytes"/> each.
/// </summary>
internal static class TensorBytes
{
    public const int MaxChunkBytes = 1 << 30;

    /// <summary>Fills the contiguous CPU tensor <paramref name="destination"/> from <paramref name="source"/>.</summary>
    public static unsafe void CopyFrom(torch.Tensor destination, byte* source, long length, int maxChunkBytes = MaxChunkBytes)
    {
        long copied = 0;
        using var flat = destination.reshape(-1);
        foreach (var (start, count) in Chunks(flat, maxChunkBytes))
        {
            using var chunk = flat.narrow(0, start, count);
            var target = chunk.bytes;
            if (copied + target.Length > length)
                throw new InvalidOperationException($"tensor holds more than the {length} bytes given");
            new ReadOnlySpan<byte>(source + copied, target.Length).CopyTo(target);
            copied += target.Length;
        }
        if (copied != length)
            throw new InvalidOperationException($"copied {copied} bytes into a tensor expecting {length}");
    }

    /// <summary>Writes the bytes of the contiguous CPU tensor <paramref name="source"/> to <paramref name="stream"/>.</summary>
    public static void CopyTo(torch.Tensor source, Stream stream, int maxChunkBytes = MaxChunkBytes)
    {
        using var flat = source.reshape(-1);
        foreach (var (start, count) in Chunks(flat, maxChunkBytes))
        {
            using var chunk = flat.narrow(0, start, count);
            stream.Write(chunk.bytes);
        }
    }

    static IEnumerable<(long Start, long Count)> Chunks(torch.Tensor flat, int maxChunkBytes)
    {
        long total = flat.numel();
        long perChunk = Math.Max(1, maxChunkBytes / flat.ElementSize);
        for (long start = 0; start < total; start += perChunk)
            yield return (start, Math.Min(perChunk, total - start));
    }
}
