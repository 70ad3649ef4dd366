using System.Diagnostics;
using Rollout.Engine.Execution;

namespace Rollout.Cli;

/// <summary>
/// Commands that run the engine start a second copy of this process with <c>MALLOC_ARENA_MAX=1</c>
/// when it is not set: glibc reads it only at process start, and without it the engine's loop thread
/// page-faults through every large temporary (see <see cref="HostMemoryRetention"/>).
/// </summary>
internal static class SingleArenaRelaunch
{
    /// <summary>The relaunched process's exit code, or null when this process should run the command itself.</summary>
    public static int? RunRelaunchedIfNeeded(string[] args)
    {
        if (!OperatingSystem.IsLinux() || HostMemoryRetention.HasSingleArena || Environment.ProcessPath is not { } self) return null;
        var psi = new ProcessStartInfo(self) { UseShellExecute = false };
        // Under `dotnet rollout.dll` the process path is the dotnet host: pass the assembly first.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(SingleArenaRelaunch).Assembly.Location);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment[HostMemoryRetention.SingleArenaVariable] = "1";
        using var child = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {self}");
        child.WaitForExit();
        return child.ExitCode;
    }
}
