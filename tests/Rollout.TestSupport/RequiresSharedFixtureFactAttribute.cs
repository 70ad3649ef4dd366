using Xunit;

namespace Rollout.TestSupport;

/// <summary>
/// A fact that needs a folder of <see cref="TestPaths.SharedFixtures"/> (data from outside the project);
/// skipped with the reason printed where that folder is absent.
/// </summary>
public sealed class RequiresSharedFixtureFactAttribute : FactAttribute
{
    /// <summary>Skips unless <paramref name="folder"/> exists under the shared fixtures path.</summary>
    public RequiresSharedFixtureFactAttribute(string folder)
    {
        string path = Path.Combine(TestPaths.SharedFixtures, folder);
        if (!Directory.Exists(path))
            Skip = $"shared fixture '{folder}' not found at {path} (set ROLLOUT_FIXTURES to its parent folder)";
    }
}
