using System.Net;
using System.Net.Http.Headers;
using MessagePack;
using Rollout.Server;
using Rollout.TestSupport;
using Rollout.Tests.Server;
using Rollout.WeightSync.Channels.Http;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Tests.WeightSync;

/// <summary><c>POST /rl/weights/nccl</c> on a real server: what it refuses before any collective, and what it says without NCCL.</summary>
public sealed class NcclEndpointTests : IAsyncLifetime
{
    const string Admin = "nccl-admin";
    RolloutServer _server = null!;

    public async Task InitializeAsync() => _server = await ServerFixture.Start(new ServerOptions { Port = 0, AdminToken = Admin });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    async Task<(HttpStatusCode Status, string Body)> Post(byte[] body, string contentType, string? token = Admin)
    {
        using var http = ServerFixture.Client(_server, token);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await http.PostAsync("/rl/weights/nccl", content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    static byte[] Rendezvous() => MessagePackSerializer.Serialize(new NcclRendezvous
    {
        UniqueId = new byte[128], Rank = 1, WorldSize = 2, BucketBytes = 1 << 20, TimeoutSeconds = 1, Manifest = new ManifestWire(),
    });

    [Fact]
    public async Task Without_the_admin_token_in_another_content_type_or_malformed_it_is_refused()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(Rendezvous(), NcclRendezvous.ContentType, token: null)).Status);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Post(Rendezvous(), "application/json")).Status);
        var (status, body) = await Post([0xc1, 0x00], NcclRendezvous.ContentType);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not a valid MessagePack map", body);
    }

    [RequiresNcclFact(available: false)]
    public async Task Without_NCCL_it_answers_503_saying_why()
    {
        Assert.False(NcclLibrary.TryLoad(out string reason));

        var (status, body) = await Post(Rendezvous(), NcclRendezvous.ContentType);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("NCCL is unavailable on this server", body);
        Assert.Contains(reason.Split(':')[0], body);
    }
}
