using System.Net.Sockets;
using Rollout.WeightSync.Receiver;

namespace Rollout.WeightSync.Channels.Ipc;

/// <summary>
/// The IPC channel's receiving end: a Unix domain socket an engine listens on for updates from trainers on
/// the same host. Each connection carries one update; its bytes are copied from the sender's segment into
/// staging and committed through the engine's <see cref="WeightReceiver"/>.
/// </summary>
public sealed class IpcWeightListener : IAsyncDisposable
{
    readonly WeightReceiver _receiver;
    readonly Socket _socket;
    readonly CancellationTokenSource _stop = new();
    readonly Task _accepting;

    /// <summary>Listens on <paramref name="socketPath"/> (replacing a stale socket file there) until disposed.</summary>
    public IpcWeightListener(WeightReceiver receiver, string socketPath)
    {
        _receiver = receiver;
        SocketPath = socketPath;
        SharedMemorySegment.RemoveOrphans();
        if (File.Exists(socketPath)) File.Delete(socketPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        // The socket file's mode is the channel's access control: only the engine's user may push.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _socket.Listen(8);
        _accepting = AcceptAsync();
    }

    /// <summary>Where trainers connect.</summary>
    public string SocketPath { get; }

    async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(connection));
        }
    }

    async Task ServeAsync(Socket connection)
    {
        using var owned = connection;
        await using var stream = new NetworkStream(connection, ownsSocket: false);
        IpcReply reply;
        try
        {
            var update = await IpcMessages.ReadAsync<IpcUpdate>(stream, _stop.Token);
            var result = await ReceiveAsync(update);
            reply = new IpcReply
            {
                Version = result.Version, Sha256 = result.Sha256, UpdatedSha256 = result.UpdatedSha256, Bytes = result.Bytes, Seconds = result.Seconds, StagedSeconds = result.StagedSeconds,
            };
        }
        catch (WeightUpdateException e)
        {
            reply = new IpcReply { Error = e.Message, Busy = e is WeightUpdateBusyException };
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or OperationCanceledException)
        {
            // The sender went away: nothing was committed, and no one is left to answer.
            return;
        }
        try
        {
            await IpcMessages.WriteAsync(stream, reply, _stop.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
        }
    }

    async Task<CommitResult> ReceiveAsync(IpcUpdate update)
    {
        var manifest = update.Manifest.ToManifest();
        if (update.Offsets is null || update.Offsets.Length != manifest.Tensors.Count)
            throw new WeightUpdateException("the update gives no offset for some tensors");
        long end = 0;
        for (int i = 0; i < manifest.Tensors.Count; i++)
        {
            if (update.Offsets[i] < 0) throw new WeightUpdateException($"'{manifest.Tensors[i].Name}' has a negative offset");
            end = Math.Max(end, update.Offsets[i] + manifest.Tensors[i].ByteLength);
        }
        using var segment = SharedMemorySegment.Open(update.Segment, end);
        using var session = _receiver.Begin(manifest);
        Stage(segment, session, manifest, update.Offsets);
        return await session.CommitAsync(_stop.Token);
    }

    /// <summary>Copies every tensor out of the segment, several at once: one thread alone does not reach the memory bandwidth.</summary>
    static unsafe void Stage(SharedMemorySegment segment, UpdateSession session, UpdateManifest manifest, long[] offsets)
    {
        byte* data = segment.Data;
        Parallel.For(0, manifest.Tensors.Count, i =>
        {
            var spec = manifest.Tensors[i];
            for (long at = 0; at < spec.ByteLength; at += int.MaxValue)
            {
                int length = (int)Math.Min(int.MaxValue, spec.ByteLength - at);
                session.Write(spec.Name, at, new ReadOnlySpan<byte>(data + offsets[i] + at, length));
            }
        });
    }

    /// <summary>Stops listening and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _accepting;
        if (File.Exists(SocketPath)) File.Delete(SocketPath);
        _stop.Dispose();
    }
}
