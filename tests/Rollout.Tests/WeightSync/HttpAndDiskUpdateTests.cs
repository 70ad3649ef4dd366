using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Rollout.Engine;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Server;
using Rollout.TestSupport;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Http;

namespace Rollout.Tests.WeightSync;

/// <summary>Updates through <c>rollout serve</c>: the HTTP frame stream and a checkpoint on disk, against a real server on 127.0.0.1.</summary>
public class HttpAndDiskUpdateTests
{
    const string Admin = "admin-secret";

    static Task<RolloutServer> Serve() => RolloutServer.StartAsync(WeightSets.Load(seed: 1234), new EngineOptions { KvCacheBytes = 4 << 20, BlockSize = 8 },
        new ServerOptions { Port = 0, AdminToken = Admin }, configureLogging: _ => { });

    static async Task<int[]> Generate(HttpClient http, RolloutServer server)
    {
        var response = await http.PostAsJsonAsync(new Uri(server.Address, "/rl/generate"),
            new { prompts = new[] { WeightSets.Prompt }, sampling = new { temperature = 0, max_tokens = WeightSets.GreedyTwelve.MaxTokens, ignore_eos = true } });
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("results")[0].GetProperty("completions")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    static async Task<(long Version, string Sha256)> Version(HttpClient http, RolloutServer server)
    {
        using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri(server.Address, "/rl/weights/version")));
        return (json.RootElement.GetProperty("version").GetInt64(), json.RootElement.GetProperty("sha256").GetString()!);
    }

    [Fact]
    public async Task An_update_over_http_serves_the_new_weights_with_the_digest_the_sender_expects()
    {
        using var b = WeightSets.Load(seed: 4321);
        int[] expected = WeightSets.GreedyOf(b, WeightSets.Prompt);
        await using var server = await Serve();
        using var http = new HttpClient();
        Assert.NotEqual(expected, await Generate(http, server));

        var tensors = WeightSets.Tensors(b);
        var outcomes = await WeightPusher.PushAsync(tensors, [new HttpWeightSender(server.Address, Admin, http)], new PushOptions(), TorchSharp.torch.ScalarType.Float32);

        Assert.True(outcomes[0].Succeeded, outcomes[0].Error?.Message);
        Assert.Equal(expected, await Generate(http, server));
        Assert.Equal((1L, WeightDigest.Compute(b.Model.CheckpointTensors())), await Version(http, server));
    }

    [Fact]
    public async Task A_stream_cut_before_commit_or_a_wrong_token_changes_nothing()
    {
        using var b = WeightSets.Load(seed: 4321);
        await using var server = await Serve();
        using var http = new HttpClient();
        int[] before = await Generate(http, server);
        var versionBefore = await Version(http, server);

        var wrongToken = await Assert.ThrowsAsync<WeightUpdateException>(() =>
            new HttpWeightSender(server.Address, "not-the-token", http).PushAsync(WeightSets.Tensors(b), new PushOptions()));
        Assert.Contains("401", wrongToken.Message);

        // A begin frame and half of the first tensor, then the stream ends.
        var tensors = WeightSets.Tensors(b);
        var manifest = ManifestBuilder.Build(tensors, new PushOptions());
        using var body = new MemoryStream();
        Frame(body, new WeightFrame { Type = "begin", Manifest = ManifestWire.From(manifest) });
        var first = manifest.Tensors[0];
        byte[] half = tensors[first.Name].bytes.ToArray()[..(int)(first.ByteLength / 2)];
        Frame(body, new WeightFrame { Type = "data", Name = first.Name, Offset = 0, Length = half.Length });
        body.Write(half);
        using var cut = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Address, "/rl/weights")) { Content = new ByteArrayContent(body.ToArray()) };
        cut.Content.Headers.ContentType = new MediaTypeHeaderValue(HttpWeightSender.ContentType);
        cut.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Admin);
        var refused = await http.SendAsync(cut);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("nothing was applied", await refused.Content.ReadAsStringAsync());

        Assert.Equal(versionBefore, await Version(http, server));
        Assert.Equal(before, await Generate(http, server));
    }

    [Fact]
    public async Task A_checkpoint_on_disk_loads_through_the_load_endpoint()
    {
        using var b = WeightSets.Load(seed: 4321);
        int[] expected = WeightSets.GreedyOf(b, WeightSets.Prompt);
        string dir = TinyModels.TempFolder();
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), WeightSets.Tensors(b));
        await using var server = await Serve();
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Admin);

        var response = await http.PostAsJsonAsync(new Uri(server.Address, "/rl/weights/load"), new { path = dir, version = 7, in_flight = "keep" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(7, json.RootElement.GetProperty("version").GetInt64());
        Assert.Equal(expected, await Generate(http, server));
        var stale = await http.PostAsJsonAsync(new Uri(server.Address, "/rl/weights/load"), new { path = dir, version = 7 });
        Assert.Equal(HttpStatusCode.BadRequest, stale.StatusCode);
        Assert.Contains("versions only move forward", await stale.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Two_trainers_pushing_at_once_one_commits_and_the_other_is_refused_cleanly()
    {
        using var b = WeightSets.Load(seed: 4321);
        await using var server = await Serve();
        using var http = new HttpClient();
        var tensors = WeightSets.Tensors(b);
        // The first trainer's stream stays open after its begin frame, so the update is in progress.
        var manifest = ManifestBuilder.Build(tensors, new PushOptions());
        var rest = new TaskCompletionSource<byte[]>();
        using var first = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Address, "/rl/weights"));
        using (var begin = new MemoryStream())
        {
            Frame(begin, new WeightFrame { Type = "begin", Manifest = ManifestWire.From(manifest) });
            first.Content = new HeldContent(begin.ToArray(), rest.Task);
        }
        first.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Admin);
        var firstResponse = http.SendAsync(first);
        await UntilAnUpdateIsOpen(server, http);
        var second = await Assert.ThrowsAsync<WeightUpdateException>(() => new HttpWeightSender(server.Address, Admin, http).PushAsync(tensors, new PushOptions()));
        Assert.Contains("409", second.Message);

        // The first trainer finishes its stream and commits.
        using (var tail = new MemoryStream())
        {
            foreach (var spec in manifest.Tensors)
            {
                byte[] bytes = tensors[spec.Name].bytes.ToArray();
                Frame(tail, new WeightFrame { Type = "data", Name = spec.Name, Offset = 0, Length = bytes.Length });
                tail.Write(bytes);
            }
            Frame(tail, new WeightFrame { Type = "commit" });
            rest.SetResult(tail.ToArray());
        }
        var committed = await firstResponse;
        Assert.Equal(HttpStatusCode.OK, committed.StatusCode);
        Assert.Equal(1L, (await Version(http, server)).Version);
    }

    [Fact]
    public async Task A_sender_process_killed_mid_transfer_leaves_the_engine_as_it_was_and_free_for_the_next_update()
    {
        using var b = WeightSets.Load(seed: 4321);
        await using var server = await Serve();
        using var http = new HttpClient();
        int[] before = await Generate(http, server);
        var tensors = WeightSets.Tensors(b);
        var manifest = ManifestBuilder.Build(tensors, new PushOptions());
        string partial = Path.Combine(TinyModels.TempFolder(), "partial.bin");
        long length;
        using (var body = new MemoryStream())
        {
            Frame(body, new WeightFrame { Type = "begin", Manifest = ManifestWire.From(manifest) });
            var first = manifest.Tensors[0];
            Frame(body, new WeightFrame { Type = "data", Name = first.Name, Offset = 0, Length = first.ByteLength });
            length = body.Length + manifest.Tensors.Sum(t => t.ByteLength) + 64;
            body.Write(tensors[first.Name].bytes.ToArray()[..(int)(first.ByteLength / 2)]);
            File.WriteAllBytes(partial, body.ToArray());
        }
        // A real process: it sends the headers and part of the body over a raw socket, then waits to be killed.
        string request = $"POST /rl/weights HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {HttpWeightSender.ContentType}\r\n" +
                         $"Authorization: Bearer {Admin}\r\nContent-Length: {length}\r\n\r\n";
        using var sender = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash",
            ["-c", $"exec 3<>/dev/tcp/127.0.0.1/{server.Address.Port}; printf '{request}' >&3; cat '{partial}' >&3; sleep 60"]) { UseShellExecute = false })!;
        await UntilAnUpdateIsOpen(server, http);

        sender.Kill();
        await sender.WaitForExitAsync();

        // Its update is abandoned: the next one goes through, from the version before it.
        CommitResult? next = null;
        for (int attempt = 0; attempt < 200 && next is null; attempt++)
        {
            Assert.Equal(0L, (await Version(http, server)).Version);
            Assert.Equal(before, await Generate(http, server));
            try
            {
                next = await new HttpWeightSender(server.Address, Admin, http).PushAsync(tensors, new PushOptions());
            }
            catch (WeightUpdateException e) when (e.Message.Contains("409"))
            {
                await Task.Delay(25);
            }
        }
        Assert.NotNull(next);
        Assert.Equal(1, next.Version);
    }

    /// <summary>Returns once the server says an update is open (<c>update_in_progress</c>), asking only what never touches the update gate.</summary>
    static async Task UntilAnUpdateIsOpen(RolloutServer server, HttpClient http)
    {
        for (int attempt = 0; attempt < 400; attempt++)
        {
            using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri(server.Address, "/rl/weights/version")));
            if (json.RootElement.GetProperty("update_in_progress").GetBoolean()) return;
            await Task.Delay(25);
        }
        Assert.Fail("no update was ever open");
    }

    /// <summary>A body sent in two parts: the first flushed at once, the rest once the test hands it over.</summary>
    sealed class HeldContent : HttpContent
    {
        readonly byte[] _head;
        readonly Task<byte[]> _rest;

        public HeldContent(byte[] head, Task<byte[]> rest)
        {
            _head = head;
            _rest = rest;
            Headers.ContentType = new MediaTypeHeaderValue(HttpWeightSender.ContentType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(_head);
            await stream.FlushAsync();
            await stream.WriteAsync(await _rest);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    static void Frame(Stream stream, WeightFrame frame)
    {
        byte[] header = MessagePack.MessagePackSerializer.Serialize(frame);
        stream.Write(BitConverter.GetBytes((uint)header.Length));
        stream.Write(header);
    }
}
