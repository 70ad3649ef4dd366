using Rollout.TestSupport;

namespace Rollout.Models.Tests.Gguf;

/// <summary>Where the shared stories260K fixture lies.</summary>
internal static class GgufTestData
{
    public static string Stories260K => Path.Combine(TestPaths.SharedFixtures, "stories260K", "stories260K-f32.gguf");
}

/// <summary>A folder of scratch files, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("rollout-gguf-").FullName;

    public string File(string name) => Path.Combine(Root, name);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
