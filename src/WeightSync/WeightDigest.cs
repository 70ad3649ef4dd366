using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace Rollout.WeightSync;

/// <summary>
/// SHA-256 of a set of named tensors, so a trainer can confirm what an engine holds. In ordinal order of
/// the names, each tensor contributes its UTF-8 name, a zero byte, its rank and dimensions as
/// little-endian int64s, then its elements' little-endian bytes in row-major order, in the dtype it has
/// (the engine's: a sender converts its tensors as the engine does before hashing). An engine's digest
/// covers its weights as HF-named tensors (<c>TransformerModel.CheckpointTensors</c>), each tied tensor once.
/// </summary>
public static class WeightDigest
{
    /// <summary>The lowercase hex SHA-256 of <paramref name="tensors"/>.</summary>
    public static string Compute(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[8];
        foreach (var (name, tensor) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(name));
            sha.AppendData([0]);
            Append(sha, number, tensor.dim());
            foreach (long d in tensor.shape) Append(sha, number, d);
            using var cpu = tensor.device_type == DeviceType.CPU ? tensor.contiguous() : tensor.cpu().contiguous();
            using var flat = cpu.reshape(-1);
            long chunk = Math.Max(1, (1L << 28) / Math.Max(1, cpu.element_size()));
            for (long start = 0; start < flat.numel(); start += chunk)
            {
                using var part = flat.narrow(0, start, Math.Min(chunk, flat.numel() - start));
                sha.AppendData(part.bytes);
            }
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    static void Append(IncrementalHash sha, Span<byte> buffer, long value)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(buffer, value);
        sha.AppendData(buffer);
    }
}
