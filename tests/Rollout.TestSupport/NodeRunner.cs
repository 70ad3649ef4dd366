using System.Diagnostics;

namespace Rollout.TestSupport;

/// <summary>Runs reference JavaScript (HF tokenizers, HF jinja) under node for parity tests.</summary>
public static class NodeRunner
{
    /// <summary>Why node-based tests cannot run here, or null when they can.</summary>
    public static string? UnavailableReason { get; } = FindUnavailableReason();

    /// <summary>
    /// Runs <paramref name="script"/> (a path under tests/node) with <paramref name="stdin"/> as its
    /// standard input and returns its standard output. Throws with node's stderr if it fails.
    /// </summary>
    public static string Run(string script, string stdin, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo("node", [Path.Combine(TestPaths.RepoRoot, "tests", "node", script)])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.Combine(TestPaths.RepoRoot, "tests", "node"),
        };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} did not finish");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"node {script} exited with {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    static string? FindUnavailableReason()
    {
        if (!Directory.Exists(TestPaths.NodeModules))
            return $"npm reference data missing ({TestPaths.NodeModules}); the test project's build fetches it when npm is installed";
        try
        {
            using var p = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true });
            p!.WaitForExit();
            return p.ExitCode == 0 ? null : "node is installed but does not run";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "node is not installed";
        }
    }
}
