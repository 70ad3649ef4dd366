using System.Net.Sockets;
using Rollout.Models.Native;
using Rollout.WeightSync.Channels.Http;
using TorchSharp;

namespace Rollout.WeightSync.Channels.Ipc;

/// <summary>
/// The IPC channel's sender, for an engine on the same host: the tensors' bytes go into one shared-memory
/// segment under <c>/dev/shm</c>, and a message on the engine's Unix domain socket names it; the engine
/// copies from the segment into its staging and answers with the commit. The segment is gone when the
/// push returns, whatever happened.
/// </summary>
public sealed class IpcWeightSender(string socketPath) : IWeightSender
{
    /// <inheritdoc/>
    public string Target => "unix:" + socketPath;

    /// <inheritdoc/>
    public async Task<CommitResult> PushAsync(IReadOnlyDictionary<string, torch.Tensor> tensors, PushOptions options, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var manifest = ManifestBuilder.Build(tensors, options);
        var offsets = new long[manifest.Tensors.Count];
        long total = 0;
        for (int i = 0; i < offsets.Length; i++)
        {
            offsets[i] = total;
            // 64-byte alignment keeps every tensor's copy on whole cache lines.
            total += (manifest.Tensors[i].ByteLength + 63) & ~63L;
        }
        SharedMemorySegment.RemoveOrphans();
        using var segment = SharedMemorySegment.Create(total);
        await Task.Run(() => Fill(segment, manifest, tensors, offsets, progress), cancellationToken);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
        }
        catch (SocketException e)
        {
            throw new WeightUpdateException($"no engine listens on {socketPath}: {e.Message}", e);
        }
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await IpcMessages.WriteAsync(stream, new IpcUpdate { Manifest = ManifestWire.From(manifest), Segment = segment.Path, Offsets = offsets }, cancellationToken);
        IpcReply reply;
        try
        {
            reply = await IpcMessages.ReadAsync<IpcReply>(stream, cancellationToken);
        }
        catch (EndOfStreamException e)
        {
            throw new WeightUpdateException($"the engine on {socketPath} closed the connection before answering", e);
        }
        if (reply.Error is { } error) throw reply.Busy ? new WeightUpdateBusyException() : new WeightUpdateException($"{Target}: {error}");
        return new CommitResult(reply.Version, reply.Sha256!, reply.UpdatedSha256!, reply.Bytes, reply.Seconds, reply.StagedSeconds);
    }

    /// <summary>Copies every tensor into the segment, several at once: one thread alone does not reach the memory bandwidth.</summary>
    static unsafe void Fill(SharedMemorySegment segment, UpdateManifest manifest, IReadOnlyDictionary<string, torch.Tensor> tensors, long[] offsets, IProgress<long>? progress)
    {
        long sent = 0;
        try
        {
            Parallel.For(0, offsets.Length, i =>
            {
                var spec = manifest.Tensors[i];
                using var cpu = ManifestBuilder.Contiguous(tensors[spec.Name]);
                if (spec.ByteLength > 0) Buffer.MemoryCopy(TensorData.Bytes(cpu), segment.Data + offsets[i], spec.ByteLength, spec.ByteLength);
                progress?.Report(Interlocked.Add(ref sent, spec.ByteLength));
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // The caller expects the failure itself (a WeightUpdateException, say), as the one-thread fill threw it.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }
}
