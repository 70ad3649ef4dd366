using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Rollout.Cli;

namespace Rollout.Tests.Server;

/// <summary><c>rollout serve</c> as an operator runs it: a process that says where it listens, serves, and stops on SIGTERM.</summary>
public partial class ServeCommandTests
{
    [Fact]
    public async Task ServesOnTheAddressItPrintsAndExitsOnSigterm()
    {
        string model = ServerFixture.ModelDirectory;
        var start = new ProcessStartInfo(DotnetHost(), [Path.Combine(AppContext.BaseDirectory, "rollout.dll"), "serve", "--model", model, "--port", "0", "--kv-cache-bytes", "8000000"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start rollout serve");
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Match serving;
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(startup.Token);
                if (line is null)
                {
                    await process.WaitForExitAsync(startup.Token);
                    Assert.Fail($"rollout serve exited with {process.ExitCode} before serving: {await stderr}");
                }
                serving = ServingLine().Match(line);
                if (serving.Success) break;
            }
            // The logs go on after the line; keep the pipe drained so the server never blocks on a full one.
            _ = process.StandardOutput.ReadToEndAsync();

            Assert.Equal(Path.GetFileName(model), serving.Groups["name"].Value);
            using (var client = new HttpClient { BaseAddress = new Uri(serving.Groups["url"].Value) })
            using (var health = await client.GetAsync("/health"))
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill.WaitForExitAsync();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(exit.Token);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await stderr}");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Theory]
    [InlineData("--host", "example.com", "--host must be an IP address or localhost")]
    [InlineData("--port", "70000", "--port must be in [0, 65535]")]
    [InlineData("--port", "-1", "--port")]
    [InlineData("--max-request-seqs", "0", "--max-request-seqs")]
    public void BadFlagsExitWithTwoBeforeLoading(string flag, string value, string expected)
    {
        var error = new StringWriter();

        int code = RolloutCli.Run(["serve", "--model", "/nonexistent/model", flag, value], new StringWriter(), error);

        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString());
    }

    /// <summary>The dotnet host running these tests, found from the runtime's folder (it need not be on PATH).</summary>
    static string DotnetHost()
    {
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }

    [GeneratedRegex(@"^serving (?<name>\S+) on (?<url>http://127\.0\.0\.1:\d+)$")]
    private static partial Regex ServingLine();
}
