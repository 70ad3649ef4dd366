using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MessagePack;
using TorchSharp;

namespace Rollout.WeightSync.Channels.Http;

/// <summary>
/// The HTTP channel's sender: one streamed <c>POST /rl/weights</c> to a <c>rollout serve</c> (admin
/// token), frames written as the tensors' bytes are read, nothing buffered whole.
/// </summary>
public sealed class HttpWeightSender(Uri server, string? adminToken, HttpClient? client = null) : IWeightSender
{
    /// <summary>The content type of the frame stream.</summary>
    public const string ContentType = "application/x-rollout-weights";

    /// <summary>Payload bytes per data frame.</summary>
    public const int FrameBytes = 4 << 20;

    readonly HttpClient _client = client ?? new HttpClient { Timeout = Timeout.InfiniteTimeSpan };

    /// <inheritdoc/>
    public string Target => server.ToString().TrimEnd('/');

    /// <inheritdoc/>
    public async Task<CommitResult> PushAsync(IReadOnlyDictionary<string, torch.Tensor> tensors, PushOptions options, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var manifest = ManifestBuilder.Build(tensors, options);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "/rl/weights"))
        {
            Content = new FrameContent(manifest, tensors, progress),
        };
        if (adminToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new WeightUpdateException($"{Target}: {e.Message}", e);
        }
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK) throw new WeightUpdateException($"{Target} refused the update ({(int)response.StatusCode}): {ErrorMessage(body)}");
            var json = JsonDocument.Parse(body).RootElement;
            return new CommitResult(json.GetProperty("version").GetInt64(), json.GetProperty("sha256").GetString()!, json.GetProperty("updated_sha256").GetString()!,
                json.GetProperty("bytes").GetInt64(), json.GetProperty("seconds").GetDouble(), json.GetProperty("staged_seconds").GetDouble());
        }
    }

    static string ErrorMessage(string body)
    {
        try
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString() ?? body;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return body;
        }
    }

    /// <summary>
    /// The frame stream as a body of known length (every header is made up front), so the server reads
    /// it whole rather than through chunked encoding.
    /// </summary>
    sealed class FrameContent : HttpContent
    {
        readonly UpdateManifest _manifest;
        readonly IReadOnlyDictionary<string, torch.Tensor> _tensors;
        readonly IProgress<long>? _progress;
        readonly byte[] _begin;
        readonly byte[][][] _dataHeaders;
        readonly byte[] _commit;

        public FrameContent(UpdateManifest manifest, IReadOnlyDictionary<string, torch.Tensor> tensors, IProgress<long>? progress)
        {
            _manifest = manifest;
            _tensors = tensors;
            _progress = progress;
            _begin = Header(new WeightFrame { Type = "begin", Manifest = ManifestWire.From(manifest) });
            _dataHeaders = manifest.Tensors.Select(spec => Frames(spec.ByteLength)
                .Select(f => Header(new WeightFrame { Type = "data", Name = spec.Name, Offset = f.Offset, Length = f.Length })).ToArray()).ToArray();
            _commit = Header(new WeightFrame { Type = "commit" });
            Headers.ContentType = new MediaTypeHeaderValue(ContentType);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _begin.Length + _commit.Length + _manifest.Tensors.Sum(t => t.ByteLength) + _dataHeaders.Sum(frames => frames.Sum(h => (long)h.Length));
            return true;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(_begin, cancellationToken);
            long sent = 0;
            for (int t = 0; t < _manifest.Tensors.Count; t++)
            {
                var spec = _manifest.Tensors[t];
                using var cpu = ManifestBuilder.Contiguous(_tensors[spec.Name]);
                var frames = Frames(spec.ByteLength).ToArray();
                for (int f = 0; f < frames.Length; f++)
                {
                    await stream.WriteAsync(_dataHeaders[t][f], cancellationToken);
                    // Straight from the tensor's memory: no copy into a buffer of ours.
                    using var bytes = new TensorMemory(cpu, frames[f].Offset, frames[f].Length);
                    await stream.WriteAsync(bytes.Memory, cancellationToken);
                    _progress?.Report(sent += frames[f].Length);
                }
            }
            await stream.WriteAsync(_commit, cancellationToken);
        }

        static IEnumerable<(long Offset, int Length)> Frames(long bytes)
        {
            for (long offset = 0; offset < bytes; offset += FrameBytes) yield return (offset, (int)Math.Min(FrameBytes, bytes - offset));
        }

        static byte[] Header(WeightFrame frame)
        {
            byte[] body = MessagePackSerializer.Serialize(frame);
            byte[] header = new byte[4 + body.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)body.Length);
            body.CopyTo(header, 4);
            return header;
        }
    }

    /// <summary>A range of a contiguous CPU tensor's bytes as <see cref="Memory{T}"/>, valid while the tensor lives.</summary>
    sealed unsafe class TensorMemory(torch.Tensor tensor, long offset, int length) : System.Buffers.MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(Rollout.Models.Native.TensorData.Bytes(tensor) + offset, length);

        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) =>
            new(Rollout.Models.Native.TensorData.Bytes(tensor) + offset + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
