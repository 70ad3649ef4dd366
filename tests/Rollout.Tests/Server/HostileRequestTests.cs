using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MessagePack;
using MessagePack.Resolvers;

namespace Rollout.Tests.Server;

/// <summary>
/// Malformed and hostile requests each get a 4xx with OpenAI's error body, never a 500, a hang or a
/// dropped connection, and leave the server serving: every case ends with a normal request.
/// </summary>
[Collection(ServerCollection.Name)]
public class HostileRequestTests(ServerFixture fixture)
{
    public enum Auth { User, Admin, None, Wrong }

    /// <summary>A request, the status it must get, and the field its error must name (null for the body, the method or the secret).</summary>
    public sealed record Hostile(string Method, string Path, byte[] Body, int Status, Auth Auth = Auth.User,
        string ContentType = "application/json", string? RequestId = null, bool ExpectContinue = false)
    {
        public string? Param { get; init; }
    }

    static Hostile Post(string path, string json, int status = 400, Auth auth = Auth.User, string? param = null) =>
        new("POST", path, Encoding.UTF8.GetBytes(json), status, auth) { Param = param };

    static Hostile Completions(string json, string? param = null, int status = 400) => Post("/v1/completions", json, status, param: param);

    static Hostile Chat(string json, string? param) => Post("/v1/chat/completions", json, param: param);

    static Hostile Generate(string json, string? param) => Post("/rl/generate", json, param: param);

    static Hostile MessagePackGenerate(byte[] body, string? param = null) =>
        new("POST", "/rl/generate", body, 400, ContentType: "application/x-msgpack") { Param = param };

    static string Nested(int depth) => new string('[', depth) + "1" + new string(']', depth);

    static readonly string LongPrompt = JsonSerializer.Serialize(Enumerable.Repeat(5, 600));

    static readonly Dictionary<string, Hostile> Cases = new()
    {
        // Bodies that are not a JSON object.
        ["truncated JSON"] = Completions("""{"prompt": "hi", """),
        ["NaN literal"] = Completions("""{"prompt": "hi", "temperature": NaN}"""),
        ["trailing garbage"] = Completions("""{"prompt": "hi"} trailing"""),
        ["array body"] = Completions("""[{"prompt": "hi"}]"""),
        ["string body"] = Completions("\"hi\""),
        ["empty body"] = Completions(""),
        ["100 nested arrays"] = Completions($$"""{"prompt": {{Nested(100)}}}"""),
        ["oversized body"] = new("POST", "/v1/completions",
            Encoding.UTF8.GetBytes($$"""{"prompt": "{{string.Concat(Enumerable.Repeat("a ", (int)ServerFixture.MaxRequestBodyBytes))}}"}"""), 413,
            ExpectContinue: true),
        // Wrong types.
        ["max_tokens string"] = Completions("""{"prompt": "hi", "max_tokens": "8"}""", "max_tokens"),
        ["prompt object"] = Completions("""{"prompt": {"text": "hi"}}""", "prompt"),
        ["prompt number"] = Completions("""{"prompt": 5}""", "prompt"),
        ["temperature string"] = Completions("""{"prompt": "hi", "temperature": "hot"}""", "temperature"),
        ["stream string"] = Completions("""{"prompt": "hi", "stream": "yes"}""", "stream"),
        ["seed string"] = Completions("""{"prompt": "hi", "seed": "lucky"}""", "seed"),
        ["n fraction"] = Completions("""{"prompt": "hi", "n": 1.5}""", "n"),
        ["model number"] = Completions("""{"prompt": "hi", "model": 3}""", "model"),
        ["stream_options number"] = Completions("""{"prompt": "hi", "stream": true, "stream_options": 5}""", "stream_options"),
        // Out of range.
        ["n zero"] = Completions("""{"prompt": "hi", "n": 0}""", "n"),
        ["n negative"] = Completions("""{"prompt": "hi", "n": -1}""", "n"),
        ["n a billion"] = Completions("""{"prompt": "hi", "n": 1000000000}""", "n"),
        ["max_tokens zero"] = Completions("""{"prompt": "hi", "max_tokens": 0}""", "max_tokens"),
        ["max_tokens negative"] = Completions("""{"prompt": "hi", "max_tokens": -5}""", "max_tokens"),
        ["max_tokens a trillion"] = Completions("""{"prompt": "hi", "max_tokens": 1000000000000}""", "max_tokens"),
        ["max_tokens beyond the context"] = Completions("""{"prompt": "hi", "max_tokens": 600}""", "max_tokens"),
        ["temperature negative"] = Completions("""{"prompt": "hi", "temperature": -1}""", "temperature"),
        ["temperature 1e400"] = Completions("""{"prompt": "hi", "temperature": 1e400}""", "temperature"),
        ["temperature NaN string"] = Completions("""{"prompt": "hi", "temperature": "NaN"}""", "temperature"),
        ["top_p Infinity string"] = Completions("""{"prompt": "hi", "top_p": "Infinity"}""", "top_p"),
        ["top_p zero"] = Completions("""{"prompt": "hi", "top_p": 0}""", "top_p"),
        ["top_p 1.5"] = Completions("""{"prompt": "hi", "top_p": 1.5}""", "top_p"),
        ["top_k -2"] = Completions("""{"prompt": "hi", "top_k": -2}""", "top_k"),
        ["min_p 2"] = Completions("""{"prompt": "hi", "min_p": 2}""", "min_p"),
        ["logprobs 21"] = Completions("""{"prompt": "hi", "logprobs": 21}""", "logprobs"),
        ["logprobs negative"] = Completions("""{"prompt": "hi", "logprobs": -1}""", "logprobs"),
        ["presence_penalty 3"] = Completions("""{"prompt": "hi", "presence_penalty": 3}""", "presence_penalty"),
        ["frequency_penalty -2.5"] = Completions("""{"prompt": "hi", "frequency_penalty": -2.5}""", "frequency_penalty"),
        ["unknown model"] = Completions("""{"prompt": "hi", "model": "gpt-4o"}""", "model", 404),
        // Prompts.
        ["empty prompt string"] = Completions("""{"prompt": ""}""", "prompt"),
        ["empty prompt list"] = Completions("""{"prompt": []}""", "prompt"),
        ["empty prompt in a batch"] = Completions("""{"prompt": [[1, 2], []]}""", "prompt[1]"),
        ["token id at the vocabulary size"] = Completions("""{"prompt": [1, 512]}""", "prompt[1]"),
        ["negative token id"] = Completions("""{"prompt": [-1, 2]}""", "prompt[0]"),
        ["fractional token id"] = Completions("""{"prompt": [1.5, 2]}""", "prompt[0]"),
        ["batch of lists and a number"] = Completions("""{"prompt": [[1, 2], 3]}""", "prompt[1]"),
        ["prompt longer than the context"] = Completions($$"""{"prompt": {{LongPrompt}}}""", "prompt"),
        ["prompts x n over the request limit"] = Completions("""{"prompt": ["a", "b", "c"], "n": 3}""", "n"),
        // Sampling fields.
        ["stop number"] = Completions("""{"prompt": "hi", "stop": 5}""", "stop"),
        ["stop list with a number"] = Completions("""{"prompt": "hi", "stop": ["a", 1]}""", "stop"),
        ["stop empty string"] = Completions("""{"prompt": "hi", "stop": ""}""", "stop"),
        ["stop_token_ids outside the vocabulary"] = Completions("""{"prompt": "hi", "stop_token_ids": [600]}""", "stop_token_ids[0]"),
        ["bad logprobs_mode"] = Completions("""{"prompt": "hi", "logprobs_mode": "cooked"}""", "logprobs_mode"),
        ["logit_bias word key"] = Completions("""{"prompt": "hi", "logit_bias": {"abc": 1}}""", "logit_bias"),
        ["logit_bias negative key"] = Completions("""{"prompt": "hi", "logit_bias": {"-1": 1}}""", "logit_bias"),
        ["logit_bias key outside the vocabulary"] = Completions("""{"prompt": "hi", "logit_bias": {"600": 1}}""", "logit_bias"),
        ["logit_bias value 200"] = Completions("""{"prompt": "hi", "logit_bias": {"5": 200}}""", "logit_bias.5"),
        ["logit_bias list"] = Completions("""{"prompt": "hi", "logit_bias": [1]}""", "logit_bias"),
        ["echo"] = Completions("""{"prompt": "hi", "echo": true}""", "echo"),
        ["best_of 3"] = Completions("""{"prompt": "hi", "best_of": 3}""", "best_of"),
        ["suffix"] = Completions("""{"prompt": "hi", "suffix": "end"}""", "suffix"),
        // Chat messages.
        ["no messages"] = Chat("""{"max_tokens": 2}""", "messages"),
        ["messages not a list"] = Chat("""{"messages": {"role": "user", "content": "hi"}}""", "messages"),
        ["messages empty"] = Chat("""{"messages": []}""", "messages"),
        ["message without role"] = Chat("""{"messages": [{"content": "hi"}]}""", "messages[0].role"),
        ["message role number"] = Chat("""{"messages": [{"role": 1, "content": "hi"}]}""", "messages[0].role"),
        ["message not an object"] = Chat("""{"messages": ["hi"]}""", "messages[0]"),
        ["message content number"] = Chat("""{"messages": [{"role": "user", "content": 5}]}""", "messages[0].content"),
        ["message image part"] = Chat("""{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}""", "messages[0].content"),
        ["chat longer than the context"] = Chat($$"""{"messages": [{"role": "user", "content": "{{string.Concat(Enumerable.Repeat("story ", 600))}}"}]}""", "messages"),
        ["chat max_tokens beyond the context"] = Chat("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 600}""", "max_tokens"),
        ["top_logprobs without logprobs"] = Chat("""{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}""", "top_logprobs"),
        ["chat unknown model"] = Post("/v1/chat/completions", """{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}""", 404, param: "model"),
        // /rl/generate.
        ["rl prompts missing"] = Generate("""{"sampling": {"max_tokens": 2}}""", "prompts"),
        ["rl prompts empty"] = Generate("""{"prompts": []}""", "prompts"),
        ["rl empty prompt"] = Generate("""{"prompts": [[]]}""", "prompts[0]"),
        ["rl prompts string"] = Generate("""{"prompts": "hello"}""", "prompts"),
        ["rl prompt text"] = Generate("""{"prompts": ["hello"]}""", "prompts[0]"),
        ["rl prompts x n over the request limit"] = Generate("""{"prompts": [[1], [2], [3]], "sampling": {"n": 3}}""", "sampling.n"),
        ["rl prompt longer than the context"] = Generate($$"""{"prompts": [[1], {{LongPrompt}}]}""", "prompts[1]"),
        ["rl max_tokens beyond the context"] = Generate("""{"prompts": [[1, 2]], "sampling": {"max_tokens": 600}}""", "sampling.max_tokens"),
        ["rl sampling list"] = Generate("""{"prompts": [[1, 2]], "sampling": [1]}""", "sampling"),
        ["rl unknown MessagePack byte"] = MessagePackGenerate([0xc1]),
        ["rl truncated MessagePack"] = MessagePackGenerate([0x81, 0xa7, (byte)'p', (byte)'r']),
        ["rl MessagePack array"] = MessagePackGenerate(MessagePackSerializer.Serialize(new[] { 1, 2 })),
        ["rl MessagePack map with integer keys"] = MessagePackGenerate(MessagePackSerializer.Serialize(new Dictionary<int, int> { [1] = 2 }), "prompts"),
        ["rl MessagePack with bad prompts"] = MessagePackGenerate(MessagePackSerializer.Serialize(
            new Dictionary<string, object> { ["prompts"] = new[] { new[] { 1, 9999 } } }, ContractlessStandardResolver.Options), "prompts[0][1]"),
        // Deeper than any stack: a converter that recursed per level would take the process down.
        ["rl MessagePack nested 200000 deep"] = MessagePackGenerate([0x81, 0xa7, .. "prompts"u8, .. Enumerable.Repeat((byte)0x91, 200_000), 0x01]),
        // Secrets.
        ["no API key"] = Completions("""{"prompt": "hi"}""", null, 401) with { Auth = Auth.None },
        ["wrong API key"] = Completions("""{"prompt": "hi"}""", null, 401) with { Auth = Auth.Wrong },
        ["no API key on /rl/generate"] = Generate("""{"prompts": [[1, 2]]}""", null) with { Status = 401, Auth = Auth.None },
        ["no API key on /rl/weights/version"] = new("GET", "/rl/weights/version", [], 401, Auth.None),
        ["no admin token on /rl/pause"] = Post("/rl/pause", "{}", 401, Auth.None),
        ["wrong admin token on /rl/pause"] = Post("/rl/pause", "{}", 401, Auth.Wrong),
        ["API key on /rl/pause"] = Post("/rl/pause", "{}", 401, Auth.User),
        ["API key on /rl/resume"] = Post("/rl/resume", "", 401, Auth.User),
        ["API key on /rl/abort"] = Post("/rl/abort", """{"all": true}""", 401, Auth.User),
        ["API key on /rl/weights/load"] = Post("/rl/weights/load", """{"path": "/tmp"}""", 401, Auth.User),
        ["no admin token on /rl/abort"] = Post("/rl/abort", """{"all": true}""", 401, Auth.None),
        // Admin bodies.
        ["bad pause mode"] = Post("/rl/pause", """{"mode": "sleep"}""", 400, Auth.Admin, param: "mode"),
        ["pause mode number"] = Post("/rl/pause", """{"mode": 1}""", 400, Auth.Admin, param: "mode"),
        ["abort without ids"] = Post("/rl/abort", "{}", 400, Auth.Admin, param: "request_ids"),
        ["abort ids numbers"] = Post("/rl/abort", """{"request_ids": [1]}""", 400, Auth.Admin, param: "request_ids[0]"),
        // Tokenizer endpoints.
        ["tokenize number"] = Post("/tokenize", """{"prompt": 5}""", param: "prompt"),
        ["detokenize outside the vocabulary"] = Post("/detokenize", """{"tokens": [600]}""", param: "tokens[0]"),
        ["detokenize without tokens"] = Post("/detokenize", "{}", param: "tokens"),
        // Methods, paths, headers.
        ["GET /v1/completions"] = new("GET", "/v1/completions", [], 405),
        ["PUT /v1/chat/completions"] = new("PUT", "/v1/chat/completions", Encoding.UTF8.GetBytes("{}"), 405),
        ["GET /rl/pause"] = new("GET", "/rl/pause", [], 405, Auth.Admin),
        ["DELETE /health"] = new("DELETE", "/health", [], 405),
        ["unknown path"] = new("GET", "/v1/embeddings", [], 404),
        ["unknown version"] = Completions("{}", null, 404) with { Path = "/v2/completions" },
        ["request id with a slash"] = Completions("""{"prompt": "hi"}""", "X-Request-Id") with { RequestId = "a/b" },
        ["request id of 200 characters"] = Completions("""{"prompt": "hi"}""", "X-Request-Id") with { RequestId = new string('x', 200) },
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Fact]
    public void AtLeastFortyCases() => Assert.True(Cases.Count >= 40, $"{Cases.Count} cases");

    [Theory]
    [MemberData(nameof(Names))]
    public async Task IsRefusedWithAnOpenAiErrorAndTheServerGoesOn(string name)
    {
        var hostile = Cases[name];

        using var response = await Send(hostile);

        var error = await OpenAiError.AssertAsync(response, hostile.Status);
        Assert.Equal(hostile.Param, error.GetProperty("param").GetString());
        var normal = await fixture.User.PostOkAsync("/v1/completions", new { prompt = "hello", max_tokens = 2 });
        Assert.Single(normal.GetProperty("choices").EnumerateArray());
    }

    [Fact]
    public async Task ARequestIdInUseIsAConflict()
    {
        using var running = await SseStream.StartAsync(fixture.User, "/v1/completions",
            new { prompt = "Once upon a time", max_tokens = 480, ignore_eos = true, stream = true }, requestId: "taken-id");
        using var second = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = ServerHttp.Json(new { prompt = "hi", max_tokens = 2 }) };
        second.Headers.Add("X-Request-Id", "taken-id");

        using var response = await fixture.User.SendAsync(second);

        var error = await OpenAiError.AssertAsync(response, 409);
        Assert.Equal("X-Request-Id", error.GetProperty("param").GetString());
        await fixture.Admin.PostOkAsync("/rl/abort", new { request_ids = new[] { "taken-id" } });
        await running.ReadToEndAsync();
        Assert.Equal(["abort"], running.FinishReasons());
    }

    HttpClient ClientFor(Auth auth) => auth switch
    {
        Auth.User => fixture.User,
        Auth.Admin => fixture.Admin,
        _ => fixture.Anonymous,
    };

    Task<HttpResponseMessage> Send(Hostile hostile)
    {
        var request = new HttpRequestMessage(new HttpMethod(hostile.Method), hostile.Path);
        if (hostile.Body.Length > 0 || hostile.Method == "POST")
        {
            request.Content = new ByteArrayContent(hostile.Body);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(hostile.ContentType);
        }
        if (hostile.Auth == Auth.Wrong) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-secret");
        if (hostile.RequestId is not null) request.Headers.TryAddWithoutValidation("X-Request-Id", hostile.RequestId);
        // The server answers 413 before reading the body; waiting for 100 Continue keeps the client from writing it into a closed connection.
        if (hostile.ExpectContinue) request.Headers.ExpectContinue = true;
        return ClientFor(hostile.Auth).SendAsync(request);
    }
}
