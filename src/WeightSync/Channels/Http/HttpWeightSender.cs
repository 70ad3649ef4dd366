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

    sealed class FrameContent : HttpContent
    {
        readonly UpdateManifest manifest;
        readonly IReadOnlyDictionary<string, torch.Tensor> tensors;
        readonly IProgress<long>? progress;

        public FrameContent(UpdateManifest manifest, IReadOnlyDictionary<string, torch.Tensor> tensors, IProgress<long>? progress)
        {
            this.manifest = manifest;
            this.tensors = tensors;
            this.progress = progress;
            Headers.ContentType = new MediaTypeHeaderValue(ContentType);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await WriteHeaderAsync(stream, new WeightFrame { Type = "begin", Manifest = ManifestWire.From(manifest) }, cancellationToken);
            long sent = 0;
            foreach (var spec in manifest.Tensors)
            {
                using var cpu = ManifestBuilder.Contiguous(tensors[spec.Name]);
                for (long offset = 0; offset < spec.ByteLength; offset += FrameBytes)
                {
                    int length = (int)Math.Min(FrameBytes, spec.ByteLength - offset);
                    await WriteHeaderAsync(stream, new WeightFrame { Type = "data", Name = spec.Name, Offset = offset, Length = length }, cancellationToken);
                    // Straight from the tensor's memory: no copy into a buffer of ours.
                    using var bytes = new TensorMemory(cpu, offset, length);
                    await stream.WriteAsync(bytes.Memory, cancellationToken);
                    progress?.Report(sent += length);
                }
            }
            await WriteHeaderAsync(stream, new WeightFrame { Type = "commit" }, cancellationToken);
        }


        static async Task WriteHeaderAsync(Stream stream, WeightFrame frame, CancellationToken cancellationToken)
        {
            byte[] header = MessagePackSerializer.Serialize(frame, cancellationToken: cancellationToken);
            byte[] prefix = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)header.Length);
            await stream.WriteAsync(prefix, cancellationToken);
            await stream.WriteAsync(header, cancellationToken);
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
