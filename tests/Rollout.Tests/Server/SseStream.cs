using System.Net;
using System.Text.Json;

namespace Rollout.Tests.Server;

/// <summary>
/// A streamed completion or chat completion read event by event, so a test can act between events
/// (pause, abort, disconnect). Every event must be <c>data: JSON</c> until the one <c>data: [DONE]</c>,
/// after which nothing may follow.
/// </summary>
internal sealed class SseStream : IDisposable
{
    readonly HttpResponseMessage _response;
    readonly StreamReader _reader;

    SseStream(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _reader = new StreamReader(body);
    }

    /// <summary>The JSON events read so far.</summary>
    public List<JsonElement> Events { get; } = [];

    /// <summary>Whether <c>data: [DONE]</c> was read.</summary>
    public bool Done { get; private set; }

    /// <summary>POSTs a streaming request; returns once the answer's headers (sent with its first event) are in.</summary>
    public static async Task<SseStream> StartAsync(HttpClient client, string path, object body, string? requestId = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = ServerHttp.Json(body) };
        if (requestId is not null) request.Headers.Add("X-Request-Id", requestId);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            string error = await response.Content.ReadAsStringAsync(cancellationToken);
            response.Dispose();
            Assert.Fail($"{path}: {(int)response.StatusCode} {error}");
        }
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new SseStream(response, await response.Content.ReadAsStreamAsync(cancellationToken));
    }

    /// <summary>The next JSON event; null once <c>data: [DONE]</c> has been read.</summary>
    public async Task<JsonElement?> NextAsync(CancellationToken cancellationToken = default)
    {
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0) continue;
            Assert.False(Done, $"an event after data: [DONE]: {line}");
            Assert.StartsWith("data: ", line);
            string data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                Done = true;
                continue;
            }
            var element = JsonDocument.Parse(data).RootElement.Clone();
            Events.Add(element);
            return element;
        }
        Assert.True(Done, "the stream ended without data: [DONE]");
        return null;
    }

    /// <summary>Reads the rest of the stream; fails unless it ends with <c>data: [DONE]</c>.</summary>
    public async Task<List<JsonElement>> ReadToEndAsync(CancellationToken cancellationToken = default)
    {
        while (await NextAsync(cancellationToken) is not null) { }
        return Events;
    }

    /// <summary>The choices of every event, in order.</summary>
    public IEnumerable<JsonElement> Choices => Events.SelectMany(e => e.GetProperty("choices").EnumerateArray());

    /// <summary>The text of choice <paramref name="index"/> so far (completions' <c>text</c> or chat's <c>delta.content</c>).</summary>
    public string Text(int index = 0) => string.Concat(Choices.Where(c => c.GetProperty("index").GetInt32() == index).Select(ChoiceText));

    /// <summary>The tokens of choice <paramref name="index"/> so far; the request must ask for <c>return_token_ids</c>.</summary>
    public List<int> TokenIds(int index = 0) =>
        Choices.Where(c => c.GetProperty("index").GetInt32() == index)
            .SelectMany(c => c.GetProperty("token_ids").EnumerateArray().Select(t => t.GetInt32())).ToList();

    /// <summary>The finish reasons of choice <paramref name="index"/>: one, on its last chunk, when it ended.</summary>
    public List<string> FinishReasons(int index = 0) =>
        Choices.Where(c => c.GetProperty("index").GetInt32() == index)
            .Select(c => c.GetProperty("finish_reason")).Where(f => f.ValueKind != JsonValueKind.Null).Select(f => f.GetString()!).ToList();

    public static string ChoiceText(JsonElement choice) =>
        choice.TryGetProperty("text", out var text) ? text.GetString()!
        : choice.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString()! : "";

    public void Dispose()
    {
        _reader.Dispose();
        _response.Dispose();
    }
}
