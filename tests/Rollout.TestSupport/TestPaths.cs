namespace Rollout.TestSupport;

/// <summary>Where tests find the repository, outside fixtures and npm reference data.</summary>
public static class TestPaths
{
    /// <summary>The repository root: the nearest folder above the test binaries holding Rollout.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// Test data from outside the project (a real trained model with its published output). Set
    /// ROLLOUT_FIXTURES to move it; by default it is ../shared/fixtures beside the checkout.
    /// </summary>
    public static string SharedFixtures =>
        Environment.GetEnvironmentVariable("ROLLOUT_FIXTURES") is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"));

    /// <summary>Fixtures committed with the project (tiny HF models with transformers' logits).</summary>
    public static string RepoFixtures => Path.Combine(RepoRoot, "tests", "fixtures");

    /// <summary>node_modules fetched from the npm registry by the test project's build.</summary>
    public static string NodeModules => Path.Combine(RepoRoot, "tests", "node", "node_modules");

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Rollout.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"Rollout.sln not found above {AppContext.BaseDirectory}");
    }
}
