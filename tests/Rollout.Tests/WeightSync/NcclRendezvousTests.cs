using System.Text.Json;
using MessagePack;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels.Http;
using Rollout.WeightSync.Channels.Nccl;

namespace Rollout.Tests.WeightSync;

/// <summary>The control channel's messages: which rendezvous an engine refuses before joining, and the commit's JSON.</summary>
public class NcclRendezvousTests
{
    static NcclRendezvous Make(int idBytes = 128, int rank = 1, int worldSize = 2, int version = 22203, long bucketBytes = 1 << 30, double timeoutSeconds = 60) => new()
    {
        UniqueId = new byte[idBytes], Rank = rank, WorldSize = worldSize, NcclVersion = version, BucketBytes = bucketBytes, TimeoutSeconds = timeoutSeconds,
        Manifest = ManifestWire.From(new UpdateManifest(null, true, InFlightPolicy.Keep, [new TensorSpec("model.norm.weight", "F32", [4], 16, 7)])),
    };

    public static IEnumerable<object[]> Refusals() =>
    [
        ["unique_id must be 128 bytes", Make(idBytes: 16)],
        ["rank 0 of world_size 2", Make(rank: 0)],
        ["rank 2 of world_size 2", Make(rank: 2)],
        ["rank 1 of world_size 1", Make(worldSize: 1)],
        ["bucket_bytes must be", Make(bucketBytes: 0)],
        ["timeout_seconds must be positive", Make(timeoutSeconds: double.NaN)],
        ["same major and minor", Make(version: 22105)],
    ];

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_rendezvous_an_engine_cannot_take_part_in_is_refused_saying_why(string why, NcclRendezvous rendezvous)
    {
        var e = Assert.Throws<WeightUpdateException>(() => rendezvous.Check(ncclVersion: 22207));
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void A_rendezvous_round_trips_through_MessagePack_and_a_patch_release_apart_is_accepted()
    {
        var received = MessagePackSerializer.Deserialize<NcclRendezvous>(MessagePackSerializer.Serialize(Make()));

        var (manifest, timeout) = received.Check(ncclVersion: 22207);

        Assert.Equal(TimeSpan.FromSeconds(60), timeout);
        Assert.Equal(InFlightPolicy.Keep, manifest.InFlight);
        Assert.Equal(7UL, Assert.Single(manifest.Tensors).Checksum);
    }

    [Fact]
    public void The_commit_travels_as_post_rl_weights_answers_it()
    {
        var result = new CommitResult(3, "aa", "bb", 16, 1.5, 0.5);

        string json = JsonSerializer.Serialize(result, NcclWeightSender.AnswerJson);

        using var document = JsonDocument.Parse(json);
        Assert.Equal(["version", "sha256", "updated_sha256", "bytes", "seconds", "staged_seconds"], document.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(result, JsonSerializer.Deserialize<CommitResult>(json, NcclWeightSender.AnswerJson));
    }
}
