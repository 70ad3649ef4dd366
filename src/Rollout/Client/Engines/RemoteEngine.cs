using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MessagePack;
using Rollout.Engine.Sampling;
using Rollout.Server.Rl;

namespace Rollout.Client.Engines;

/// <summary>
/// One <c>rollout serve</c> engine: a group is one streamed MessagePack <c>POST /rl/generate</c>; ending it
/// early is <c>POST /rl/abort</c> with the admin token, and cancelling drops the connection, which the server
/// answers by aborting the request. Scoring is <c>POST /rl/score</c>.
/// </summary>
internal sealed class RemoteEngine(HttpClient http, Uri baseAddress, RemoteRolloutOptions options) : IRolloutEngine
{
    // An abort that reaches the server before its request does finds nothing: it is sent again until the request has ended.
    static readonly TimeSpan AbortRetryDelay = TimeSpan.FromMilliseconds(20);

    readonly Uri _generate = new(baseAddress, "rl/generate");
    readonly Uri _abort = new(baseAddress, "rl/abort");
    readonly Uri _score = new(baseAddress, "rl/score");

    public void Validate(IReadOnlyList<int> prompt, SamplingParams sampling)
    {
        sampling.Validate(VocabSize);
        CheckTokens(prompt, "prompt", nameof(prompt));
    }

    /// <summary>Throws as <see cref="Validate"/> does for a sequence <see cref="ScoreAsync"/> would send.</summary>
    public void ValidateScore(ScoreRequest sequence, ScoreOptions options)
    {
        options.Sampling?.Validate(VocabSize);
        CheckTokens(sequence.PromptTokenIds, "prompt", nameof(sequence));
        CheckTokens(sequence.CompletionTokenIds, "completion", nameof(sequence), allowEmpty: true);
    }

    /// <summary>Scores <paramref name="body"/>'s sequences with one <c>POST /rl/score</c>; one result per sequence, in order.</summary>
    public async Task<RlScoreResult[]> ScoreAsync(RlScoreRequest body, CancellationToken cancellationToken)
    {
        using var request = RemoteHttp.Post(_score, body, options.ApiKey);
        using var response = await http.SendAsync(request, cancellationToken);
        await RemoteHttp.ThrowIfFailedAsync(response, _score, cancellationToken);
        var answer = MessagePackSerializer.Deserialize<RlScoreResponse>(await response.Content.ReadAsByteArrayAsync(cancellationToken), RemoteHttp.MessagePack,
            cancellationToken);
        return answer.Results.Length == body.Sequences.Length ? answer.Results
            : throw new IOException($"{_score} answered {answer.Results.Length} results for {body.Sequences.Length} sequences");
    }

    // Without the vocabulary size only what no model accepts is caught here; the server checks the rest.
    int VocabSize => options.VocabSize ?? int.MaxValue;

    void CheckTokens(IReadOnlyList<int> ids, string what, string param, bool allowEmpty = false)
    {
        ArgumentNullException.ThrowIfNull(ids, param);
        if (ids.Count == 0 && !allowEmpty) throw new ArgumentException($"the {what} needs at least one token", param);
        for (int i = 0; i < ids.Count; i++)
            if (ids[i] < 0 || ids[i] >= VocabSize)
                throw new ArgumentException($"token {i} of the {what} ({ids[i]}) is outside the vocabulary [0, {VocabSize})", param);
    }

    public async IAsyncEnumerable<EngineCompletion> GenerateAsync(IReadOnlyList<int> prompt, SamplingParams sampling, CancellationToken endEarly,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string requestId = Guid.NewGuid().ToString("N");
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var request = RemoteHttp.Post(_generate, new RlGenerateRequest { Prompts = [[.. prompt]], Sampling = RlSampling.From(sampling), Stream = true },
            options.ApiKey);
        request.Headers.Add("X-Request-Id", requestId);
        await using var abortEarly = endEarly.Register(() => _ = AbortUntilEndedAsync(requestId, ended.Token));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            await RemoteHttp.ThrowIfFailedAsync(response, _generate, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var reader = new MessagePackStreamReader(body);
            int received = 0;
            while (await reader.ReadAsync(cancellationToken) is { } message)
            {
                var line = MessagePackSerializer.Deserialize<RlStreamedCompletion>(message, RemoteHttp.MessagePack, cancellationToken);
                var c = line.Completion;
                received++;
                yield return new EngineCompletion(c.Index, c.TokenIds, c.Logprobs ?? [], c.WeightVersions, c.FinishReason ?? "abort", c.SupportSizes, c.SupportIds);
            }
            if (received != sampling.N)
                throw new IOException($"{_generate} ended its stream after {received} of {sampling.N} completions");
        }
        finally
        {
            ended.Cancel();
        }
    }

    /// <summary>Aborts <paramref name="requestId"/> on the server, again until it has been found or its stream has ended; failures leave it running to its end.</summary>
    async Task AbortUntilEndedAsync(string requestId, CancellationToken ended)
    {
        try
        {
            while (!ended.IsCancellationRequested)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _abort) { Content = JsonContent.Create(new { request_ids = new[] { requestId } }) };
                request.Headers.Authorization = new("Bearer", options.AdminToken);
                using var response = await http.SendAsync(request, ended);
                await RemoteHttp.ThrowIfFailedAsync(response, _abort, ended);
                using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ended));
                if (answer.RootElement.GetProperty("aborted").GetInt32() > 0) return;
                await Task.Delay(AbortRetryDelay, ended);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException or RolloutServerException)
        {
            // Ending early is best effort: a request that could not be aborted finishes whole, which is never wrong.
        }
    }
}
