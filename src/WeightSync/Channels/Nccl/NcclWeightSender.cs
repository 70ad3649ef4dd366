using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using MessagePack;
using Rollout.Models.Native;
using Rollout.WeightSync.Channels.Http;
using TorchSharp;

namespace Rollout.WeightSync.Channels.Nccl;

/// <summary>
/// The NCCL channel's sender, rank 0 of a communicator with one or more engines (ranks 1 and up). It
/// sends each engine a <see cref="NcclRendezvous"/> (<c>POST /rl/weights/nccl</c>, admin token) carrying
/// the manifest and a fresh unique id, joins the communicator, and broadcasts the tensors' bytes in
/// buckets, two in flight; each engine checks, stages and commits, and its answer is the commit. A
/// failure anywhere (an engine's refusal, a deadline, an error) cuts every control request, which makes
/// each engine abort its communicator and its update. Every engine of a sender receives the same
/// broadcasts: when several take part, the push succeeds only if all commit the same tensors.
/// </summary>
public sealed class NcclWeightSender : IWeightSender
{
    /// <summary>How an engine's commit travels back in the answer's JSON body.</summary>
    internal static readonly JsonSerializerOptions AnswerJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    readonly IReadOnlyList<string> _engines;
    readonly Func<int, NcclRendezvous, CancellationToken, Task<CommitResult>> _control;
    readonly Func<ICollectiveFactory> _collectives;
    readonly NcclOptions _options;

    /// <summary>A sender to the <c>rollout serve</c> engines at <paramref name="servers"/> (server roots, <c>http://host:port</c>).</summary>
    public NcclWeightSender(IReadOnlyList<Uri> servers, string? adminToken, NcclOptions? options = null, HttpClient? client = null)
        : this(servers.Select(s => s.ToString().TrimEnd('/')).ToArray(), HttpControl(servers, adminToken, client ?? new HttpClient { Timeout = Timeout.InfiniteTimeSpan }),
            options ?? new NcclOptions(), collectives: null)
    {
    }

    /// <summary>A sender over any control channel (<paramref name="control"/> sends engine i its rendezvous and returns its commit); null <paramref name="collectives"/> is libnccl.</summary>
    internal NcclWeightSender(IReadOnlyList<string> engines, Func<int, NcclRendezvous, CancellationToken, Task<CommitResult>> control, NcclOptions options,
        Func<ICollectiveFactory>? collectives)
    {
        if (engines.Count == 0) throw new ArgumentException("an NCCL sender needs at least one engine", nameof(engines));
        _engines = engines;
        _control = control;
        _options = options;
        _collectives = collectives ?? (() => new NcclCollectiveFactory(options.Device));
    }

    /// <inheritdoc/>
    public string Target => "nccl:" + string.Join(",", _engines);

    /// <inheritdoc/>
    public async Task<CommitResult> PushAsync(IReadOnlyDictionary<string, torch.Tensor> tensors, PushOptions options, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var collectives = _collectives();
        var manifest = ManifestBuilder.Build(tensors, options);
        var buckets = BucketPlan.Create(manifest.Tensors, _options.BucketBytes);
        byte[] uniqueId = collectives.NewUniqueId();
        var wire = ManifestWire.From(manifest);
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var answers = Enumerable.Range(1, _engines.Count).Select(rank => Answer(_control(rank - 1, new NcclRendezvous
        {
            UniqueId = uniqueId, Rank = rank, WorldSize = _engines.Count + 1, NcclVersion = collectives.Version,
            BucketBytes = _options.BucketBytes, TimeoutSeconds = _options.Timeout.TotalSeconds, Manifest = wire,
        }, abandon.Token))).ToArray();

        Exception? failure = null;
        try
        {
            await Task.Run(() => BroadcastAsync(collectives, uniqueId, tensors, buckets, progress, abandon.Token), abandon.Token);
        }
        catch (Exception e)
        {
            // Whatever broke, the engines must hear of it now rather than at their deadlines.
            failure = e;
            await abandon.CancelAsync();
        }
        await Task.WhenAll(answers).ContinueWith(static _ => { }, TaskScheduler.Default);
        cancellationToken.ThrowIfCancellationRequested();
        return Outcome(answers, failure);

        // An engine's failure ends the push for all: the broadcasts of the others could never finish.
        async Task<CommitResult> Answer(Task<CommitResult> answer)
        {
            try
            {
                return await answer;
            }
            catch
            {
                await abandon.CancelAsync();
                throw;
            }
        }
    }

    async Task BroadcastAsync(ICollectiveFactory collectives, byte[] uniqueId, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyList<Bucket> buckets,
        IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var communicator = await NcclCommunicator.JoinAsync(collectives, uniqueId, 0, _engines.Count + 1, _options.Timeout, cancellationToken);
        using var packer = new BucketPacker(tensors);
        long sent = 0;
        await BucketPipeline.RunAsync(communicator, buckets, packer.Pack, (bucket, _) => progress?.Report(sent += bucket.Length), cancellationToken);
    }

    /// <summary>The commit when every engine committed the same tensors; else why not, engine by engine (an engine's own reason before the sender's).</summary>
    CommitResult Outcome(Task<CommitResult>[] answers, Exception? failure)
    {
        if (failure is null && answers.All(a => a.IsCompletedSuccessfully))
        {
            var results = answers.Select(a => a.Result).ToArray();
            if (results.All(r => r.UpdatedSha256 == results[0].UpdatedSha256 && r.Version == results[0].Version)) return results[0];
            throw new WeightUpdateException($"{Target}: the engines committed different updates: "
                + string.Join("; ", results.Select((r, i) => $"{_engines[i]} version {r.Version} digest {r.UpdatedSha256}")));
        }
        var reasons = answers.Select((a, i) => (Engine: _engines[i], Error: a.Exception?.InnerException)).Where(r => r.Error is WeightUpdateException).ToList();
        if (reasons.Count == 0)
        {
            var error = failure ?? answers.Select(a => a.Exception?.InnerException).FirstOrDefault(e => e is not null);
            throw error as WeightUpdateException ?? new WeightUpdateException($"{Target}: {error?.Message ?? "an engine's answer was cancelled"}", error);
        }
        if (_engines.Count == 1 && reasons[0].Error is WeightUpdateBusyException) throw new WeightUpdateBusyException();
        string committed = string.Concat(answers.Select((a, i) => a.IsCompletedSuccessfully ? $"; {_engines[i]} committed version {a.Result.Version}" : ""));
        throw new WeightUpdateException(string.Join("; ", reasons.Select(r => $"{r.Engine}: {r.Error!.Message}")) + committed, reasons[0].Error);
    }

    static Func<int, NcclRendezvous, CancellationToken, Task<CommitResult>> HttpControl(IReadOnlyList<Uri> servers, string? adminToken, HttpClient client) =>
        async (engine, rendezvous, cancellationToken) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(servers[engine], "/rl/weights/nccl"))
            {
                Content = new ByteArrayContent(MessagePackSerializer.Serialize(rendezvous, cancellationToken: cancellationToken)),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(NcclRendezvous.ContentType);
            if (adminToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw new WeightUpdateException(e.Message, e);
            }
            using (response)
            {
                string body = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.StatusCode == HttpStatusCode.Conflict) throw new WeightUpdateBusyException();
                if (response.StatusCode != HttpStatusCode.OK) throw new WeightUpdateException($"refused the update ({(int)response.StatusCode}): {ErrorMessage(body)}");
                return JsonSerializer.Deserialize<CommitResult>(body, AnswerJson) ?? throw new WeightUpdateException("answered an empty commit");
            }
        };

    static string ErrorMessage(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() ?? body;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return body;
        }
    }

    /// <summary>
    /// Packs buckets from the trainer's tensors, each as contiguous CPU memory (kept while its pieces go
    /// out, so a tensor that spans buckets is made contiguous once).
    /// </summary>
    sealed unsafe class BucketPacker(IReadOnlyDictionary<string, torch.Tensor> tensors) : IDisposable
    {
        string? _name;
        torch.Tensor? _cpu;

        public void Pack(Bucket bucket, ICollectiveSlot slot)
        {
            foreach (var piece in bucket.Pieces)
            {
                if (_name != piece.Tensor)
                {
                    _cpu?.Dispose();
                    _cpu = ManifestBuilder.Contiguous(tensors[piece.Tensor]);
                    _name = piece.Tensor;
                }
                slot.Write(piece.BucketOffset, new ReadOnlySpan<byte>(TensorData.Bytes(_cpu!) + piece.TensorOffset, (int)piece.Length));
            }
        }

        public void Dispose() => _cpu?.Dispose();
    }
}
