using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Rollout.Bench.Serve;

/// <summary>
/// <c>rollout serve</c> in a child process, as a deployment runs it: started from the <c>rollout</c>
/// beside this assembly, ready once it prints its address, stopped with SIGTERM.
/// </summary>
internal sealed partial class ServerProcess : IDisposable
{
    readonly Process _process;

    ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public static ServerProcess Start(IEnumerable<string> arguments, TimeSpan timeout)
    {
        var psi = RolloutProcess.StartInfo(["serve", .. arguments]);
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            var line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(timeout - deadline.Elapsed) || line.Result is null) break;
            if (Serving().Match(line.Result) is { Success: true } m)
            {
                // Keep draining its logs so the child never blocks on a full pipe.
                _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
                return new ServerProcess(process, new Uri(m.Groups[1].Value));
            }
        }
        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException("rollout serve did not print its address in time");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            if (!_process.WaitForExit(10_000)) _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"^serving \S+ on (http://\S+)$")]
    private static partial Regex Serving();
}
