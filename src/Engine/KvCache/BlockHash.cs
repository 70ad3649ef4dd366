namespace Rollout.Engine.KvCache;

/// <summary>
/// Identity of a full block's KV: 128 bits of a hash over its parent's hash, its token ids and
/// everything else that changes the KV (the weight version). Wide enough that a collision, which
/// would silently serve wrong KV, is not a practical concern.
/// </summary>
internal readonly record struct BlockHash(UInt128 Value)
{
    public const int Size = 16;

    public void WriteTo(Span<byte> destination) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(destination, Value);

    public override string ToString() => Value.ToString("x32");
}
