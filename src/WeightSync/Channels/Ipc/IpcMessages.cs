using System.Buffers.Binary;
using MessagePack;
using Rollout.WeightSync.Channels.Http;

namespace Rollout.WeightSync.Channels.Ipc;

/// <summary>
/// The IPC channel's control messages over its Unix domain socket, each a little-endian uint32 length
/// then a MessagePack map: the sender's <see cref="IpcUpdate"/> naming the shared-memory segment that
/// holds the bytes, and the receiver's <see cref="IpcReply"/>.
/// </summary>
internal static class IpcMessages
{
    const int MaxBytes = 64 << 20;

    public static async Task WriteAsync<T>(Stream stream, T message, CancellationToken cancellationToken)
    {
        byte[] body = MessagePackSerializer.Serialize(message, cancellationToken: cancellationToken);
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)body.Length);
        await stream.WriteAsync(prefix, cancellationToken);
        await stream.WriteAsync(body, cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    public static async Task<T> ReadAsync<T>(Stream stream, CancellationToken cancellationToken)
    {
        byte[] prefix = new byte[4];
        await stream.ReadExactlyAsync(prefix, cancellationToken);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length == 0 || length > MaxBytes) throw new WeightUpdateException($"an IPC message of {length} bytes: at most {MaxBytes}");
        byte[] body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken);
        try
        {
            return MessagePackSerializer.Deserialize<T>(body, MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData), cancellationToken);
        }
        catch (MessagePackSerializationException e)
        {
            throw new WeightUpdateException($"an IPC message is not valid MessagePack: {e.Message}", e);
        }
    }
}

/// <summary>An update sent over IPC: its manifest, and where each tensor's bytes lie in the segment.</summary>
[MessagePackObject]
public sealed class IpcUpdate
{
    /// <summary>The manifest.</summary>
    [Key("manifest")] public required ManifestWire Manifest { get; init; }

    /// <summary>The shared-memory file holding every tensor's bytes.</summary>
    [Key("segment")] public required string Segment { get; init; }

    /// <summary>Each manifest tensor's offset in the segment, in manifest order.</summary>
    [Key("offsets")] public required long[] Offsets { get; init; }
}

/// <summary>The receiver's answer: the commit, or why the update was refused.</summary>
[MessagePackObject]
public sealed class IpcReply
{
    /// <summary>The error, when the update did not commit.</summary>
    [Key("error")] public string? Error { get; init; }

    /// <summary>Whether the refusal was another update being open.</summary>
    [Key("busy")] public bool Busy { get; init; }

    /// <summary>The committed version.</summary>
    [Key("version")] public long Version { get; init; }

    /// <summary>The digest of all the engine's weights.</summary>
    [Key("sha256")] public string? Sha256 { get; init; }

    /// <summary>The digest of the tensors sent.</summary>
    [Key("updated_sha256")] public string? UpdatedSha256 { get; init; }

    /// <summary>Bytes received.</summary>
    [Key("bytes")] public long Bytes { get; init; }

    /// <summary>Seconds from the update's start to its commit.</summary>
    [Key("seconds")] public double Seconds { get; init; }

    /// <summary>Of those, the seconds until every byte was staged and checked.</summary>
    [Key("staged_seconds")] public double StagedSeconds { get; init; }
}
