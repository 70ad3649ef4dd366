using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Rollout.Engine.KvCache;

/// <summary>
/// Chained block hashes for automatic prefix caching: a block's hash covers its parent's, so equal
/// hashes mean equal whole prefixes, not just equal blocks.
/// </summary>
internal static class PrefixHasher
{
    const int StackLimit = 1024;

    /// <summary>
    /// Hash of a full block. <paramref name="weightVersion"/> is part of every hash so KV computed by
    /// older weights never matches; <paramref name="extraKey"/> separates anything else that changes
    /// the KV (an adapter, a cache salt).
    /// </summary>
    public static BlockHash Hash(BlockHash? parent, ReadOnlySpan<int> tokenIds, long weightVersion, ReadOnlySpan<byte> extraKey = default)
    {
        // Native byte order is fine: hashes never leave the process.
        ReadOnlySpan<byte> tokenBytes = MemoryMarshal.AsBytes(tokenIds);
        // Lengths are included so that no two different inputs serialise to the same bytes.
        int length = 1 + BlockHash.Size + sizeof(long) + sizeof(int) + tokenBytes.Length + sizeof(int) + extraKey.Length;
        byte[]? rented = length > StackLimit ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> buffer = rented is null ? stackalloc byte[StackLimit] : rented;
        buffer = buffer[..length];
        try
        {
            int at = 0;
            buffer[at++] = parent.HasValue ? (byte)1 : (byte)0;
            (parent ?? default).WriteTo(buffer.Slice(at, BlockHash.Size));
            at += BlockHash.Size;
            BinaryPrimitives.WriteInt64LittleEndian(buffer[at..], weightVersion);
            at += sizeof(long);
            BinaryPrimitives.WriteInt32LittleEndian(buffer[at..], tokenIds.Length);
            at += sizeof(int);
            tokenBytes.CopyTo(buffer[at..]);
            at += tokenBytes.Length;
            BinaryPrimitives.WriteInt32LittleEndian(buffer[at..], extraKey.Length);
            at += sizeof(int);
            extraKey.CopyTo(buffer[at..]);

            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer, digest);
            return new BlockHash(BinaryPrimitives.ReadUInt128LittleEndian(digest));
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
