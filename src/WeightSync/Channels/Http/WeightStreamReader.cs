using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using MessagePack;
using Rollout.WeightSync.Receiver;

namespace Rollout.WeightSync.Channels.Http;

/// <summary>
/// The receiving end of the HTTP channel: reads frames off a <see cref="PipeReader"/> and writes each
/// data frame's bytes from the pipe's own buffers straight into the update's staging. A stream that
/// ends, breaks or aborts before <c>commit</c> leaves the engine as it was.
/// </summary>
public static class WeightStreamReader
{
    /// <summary>Receives one update from <paramref name="reader"/> into <paramref name="receiver"/> and commits it.</summary>
    /// <exception cref="WeightUpdateException">A malformed frame, a refused manifest, bytes that do not check, an early end.</exception>
    public static async Task<CommitResult> ReceiveAsync(PipeReader reader, WeightReceiver receiver, CancellationToken cancellationToken = default)
    {
        var begin = await ReadHeaderAsync(reader, cancellationToken)
            ?? throw new WeightUpdateException("the stream is empty: it must start with a begin frame");
        if (begin.Type != "begin" || begin.Manifest is null) throw new WeightUpdateException($"the first frame must be begin with a manifest, not '{begin.Type}'");
        using var session = receiver.Begin(begin.Manifest.ToManifest());
        while (true)
        {
            var frame = await ReadHeaderAsync(reader, cancellationToken)
                ?? throw new WeightUpdateException("the stream ended before commit: nothing was applied");
            switch (frame.Type)
            {
                case "data":
                    if (frame.Name is null || frame.Length < 0 || frame.Offset < 0) throw new WeightUpdateException("a data frame needs a name, an offset and a length");
                    await CopyPayloadAsync(reader, session, frame.Name, frame.Offset, frame.Length, cancellationToken);
                    break;
                case "commit":
                    return await session.CommitAsync(cancellationToken);
                case "abort":
                    throw new WeightUpdateException("the sender aborted the update: nothing was applied");
                default:
                    throw new WeightUpdateException($"unknown frame type '{frame.Type}'");
            }
        }
    }

    static async Task<WeightFrame?> ReadHeaderAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var result = await reader.ReadAtLeastAsync(4, cancellationToken);
        var buffer = result.Buffer;
        if (buffer.IsEmpty && result.IsCompleted) return null;
        if (buffer.Length < 4) throw new WeightUpdateException("the stream ended inside a frame header");
        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length == 0 || length > WeightFrame.MaxHeaderBytes) throw new WeightUpdateException($"a frame header of {length} bytes: at most {WeightFrame.MaxHeaderBytes}");
        reader.AdvanceTo(buffer.GetPosition(4));
        result = await reader.ReadAtLeastAsync((int)length, cancellationToken);
        buffer = result.Buffer;
        if (buffer.Length < length) throw new WeightUpdateException("the stream ended inside a frame header");
        var header = buffer.Slice(0, length);
        try
        {
            return MessagePackSerializer.Deserialize<WeightFrame>(header, MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData), cancellationToken);
        }
        catch (MessagePackSerializationException e)
        {
            throw new WeightUpdateException($"a frame header is not valid MessagePack: {e.Message}", e);
        }
        finally
        {
            reader.AdvanceTo(header.End);
        }
    }

    static async Task CopyPayloadAsync(PipeReader reader, UpdateSession session, string name, long offset, long length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted) throw new WeightUpdateException($"the stream ended inside the bytes of '{name}': nothing was applied");
            var take = buffer.Slice(0, Math.Min(buffer.Length, length));
            foreach (var segment in take)
            {
                session.Write(name, offset, segment.Span);
                offset += segment.Length;
            }
            length -= take.Length;
            reader.AdvanceTo(take.End);
        }
    }
}
