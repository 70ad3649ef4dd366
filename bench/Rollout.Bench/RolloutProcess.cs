using System.Diagnostics;

namespace Rollout.Bench;

/// <summary>How a benchmark starts <c>rollout</c> itself as a child process: the apphost or <c>dotnet rollout.dll</c> beside this assembly.</summary>
internal static class RolloutProcess
{
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        string folder = Path.GetDirectoryName(typeof(RolloutProcess).Assembly.Location)!;
        string apphost = Path.Combine(folder, "rollout");
        var psi = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(folder, "rollout.dll") } };
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        return psi;
    }
}
