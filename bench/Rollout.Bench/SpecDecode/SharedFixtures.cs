namespace Rollout.Bench.SpecDecode;

/// <summary>
/// Data from outside the project (a real trained model), found as the tests find it: under ROLLOUT_FIXTURES,
/// by default ../shared/fixtures beside the checkout that holds this build.
/// </summary>
internal static class SharedFixtures
{
    /// <summary>The path of <paramref name="relative"/> under the shared fixtures folder.</summary>
    /// <exception cref="FileNotFoundException">The file is not there.</exception>
    public static string File(string relative)
    {
        string path = Path.Combine(Root(), relative);
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"shared fixture {relative} not found at {path} (set ROLLOUT_FIXTURES to the folder that holds it)", path);
        return path;
    }

    /// <summary>The path of <paramref name="relative"/> under the shared fixtures folder, or null when it is not there.</summary>
    public static string? TryFile(string relative)
    {
        try
        {
            return File(relative);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    static string Root()
    {
        if (Environment.GetEnvironmentVariable("ROLLOUT_FIXTURES") is { Length: > 0 } configured) return Path.GetFullPath(configured);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Rollout.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures"));
        }
        throw new FileNotFoundException($"no checkout (Rollout.sln) above {AppContext.BaseDirectory} to find ../shared/fixtures beside: set ROLLOUT_FIXTURES");
    }
}
