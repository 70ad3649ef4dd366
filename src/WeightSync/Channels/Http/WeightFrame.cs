using MessagePack;

namespace Rollout.WeightSync.Channels.Http;

/// <summary>
/// The header of one frame of the HTTP channel (<c>POST /rl/weights</c>): a little-endian uint32 length,
/// this header as a MessagePack map, then <see cref="Length"/> raw bytes for a <c>data</c> frame. An
/// update is one <c>begin</c> (with the manifest), <c>data</c> frames in any order of tensors (each
/// tensor's bytes in order), then <c>commit</c> or <c>abort</c>.
/// </summary>
[MessagePackObject]
public sealed class WeightFrame
{
    /// <summary>The largest header accepted: a manifest of tens of thousands of tensors fits.</summary>
    public const int MaxHeaderBytes = 64 << 20;

    /// <summary><c>begin</c>, <c>data</c>, <c>commit</c> or <c>abort</c>.</summary>
    [Key("type")] public required string Type { get; init; }

    /// <summary>For <c>begin</c>: what the update will send.</summary>
    [Key("manifest")] public ManifestWire? Manifest { get; init; }

    /// <summary>For <c>data</c>: the tensor the bytes belong to.</summary>
    [Key("name")] public string? Name { get; init; }

    /// <summary>For <c>data</c>: where in the tensor's bytes they start.</summary>
    [Key("offset")] public long Offset { get; init; }

    /// <summary>For <c>data</c>: how many raw bytes follow the header.</summary>
    [Key("length")] public long Length { get; init; }
}

/// <summary>A manifest on the wire.</summary>
[MessagePackObject]
public sealed class ManifestWire
{
    /// <summary>The version to install; absent for the engine's current + 1.</summary>
    [Key("version")] public long? Version { get; init; }

    /// <summary>A subset of the tensors, or all of them.</summary>
    [Key("partial")] public bool Partial { get; init; }

    /// <summary><c>wait</c>, <c>abort</c>, <c>keep</c> or <c>recompute</c>.</summary>
    [Key("in_flight")] public string InFlight { get; init; } = "wait";

    /// <summary>Every tensor.</summary>
    [Key("tensors")] public TensorWire[] Tensors { get; init; } = [];

    /// <summary>The wire form of <paramref name="manifest"/>.</summary>
    public static ManifestWire From(UpdateManifest manifest) => new()
    {
        Version = manifest.Version,
        Partial = manifest.Partial,
        InFlight = manifest.InFlight.ToString().ToLowerInvariant(),
        Tensors = manifest.Tensors.Select(t => new TensorWire { Name = t.Name, DType = t.DType, Shape = t.Shape, ByteLength = t.ByteLength, Checksum = t.Checksum }).ToArray(),
    };

    /// <summary>The manifest this wire form describes.</summary>
    /// <exception cref="WeightUpdateException">An unknown in-flight policy or a missing field.</exception>
    public UpdateManifest ToManifest()
    {
        if (!Enum.TryParse<InFlightPolicy>(InFlight, ignoreCase: true, out var policy) || !Enum.IsDefined(policy) || int.TryParse(InFlight, out _))
            throw new WeightUpdateException($"in_flight must be wait, abort, keep or recompute, not '{InFlight}'");
        return new UpdateManifest(Version, Partial, policy, (Tensors ?? []).Select(t => new TensorSpec(
            t.Name ?? throw new WeightUpdateException("a manifest tensor has no name"),
            t.DType ?? throw new WeightUpdateException($"'{t.Name}' has no dtype"),
            t.Shape ?? throw new WeightUpdateException($"'{t.Name}' has no shape"),
            t.ByteLength, t.Checksum)).ToArray());
    }
}

/// <summary>A manifest's tensor on the wire.</summary>
[MessagePackObject]
public sealed class TensorWire
{
    /// <summary>The tensor's name.</summary>
    [Key("name")] public string? Name { get; init; }

    /// <summary><c>F32</c>, <c>F16</c> or <c>BF16</c>.</summary>
    [Key("dtype")] public string? DType { get; init; }

    /// <summary>Its dimensions.</summary>
    [Key("shape")] public long[]? Shape { get; init; }

    /// <summary>Its bytes.</summary>
    [Key("byte_length")] public long ByteLength { get; init; }

    /// <summary>XxHash3 of its bytes.</summary>
    [Key("checksum")] public ulong Checksum { get; init; }
}
