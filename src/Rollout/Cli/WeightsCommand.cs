using System.CommandLine;
using System.Globalization;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Channels.Http;
using Rollout.WeightSync.Channels.Ipc;

namespace Rollout.Cli;

/// <summary><c>rollout weights push</c>: a safetensors checkpoint sent to running servers as one update each.</summary>
internal static class WeightsCommand
{
    /// <summary>The command group and its subcommands.</summary>
    public static Command Create() => new("weights", "Weight updates of running servers.") { Push() };

    static Command Push()
    {
        var checkpoint = new Argument<string>("CHECKPOINT_DIR") { Description = "a safetensors checkpoint: a directory (single or sharded) or one file" };
        var to = CliOptions.Text("--to", "URL[,URL...]", "the servers' root URLs (http://host:port), or unix:SOCKET for a server's --weights-socket on this host", required: true);
        var adminToken = CliOptions.Text("--admin-token", "TOKEN", "the servers' admin token (also ROLLOUT_ADMIN_TOKEN)");
        var version = CliOptions.Integer<long>("--version", "N", "the version to install (default: each server's current + 1)", 0, min: 1);
        var partial = CliOptions.Flag("--partial", "the checkpoint holds a subset of the tensors (else it must hold all)");
        var inFlight = CliOptions.Choice("--in-flight", "what happens to requests running when the update applies", "wait", "abort", "keep", "recompute");
        var command = new Command("push", "Pushes a safetensors checkpoint to each server (over HTTP, or shared memory for unix:SOCKET); exit 0 only when every server committed.")
        {
            checkpoint, to, adminToken, version, partial, inFlight,
        };
        command.SetAction(result =>
        {
            string? token = result.GetValue(adminToken) ?? (Environment.GetEnvironmentVariable("ROLLOUT_ADMIN_TOKEN") is { Length: > 0 } env ? env : null);
            var servers = result.GetRequiredValue(to).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(target => Sender(target, token)).ToArray();
            if (servers.Length == 0) throw new UsageException("--to names no server");
            var options = new PushOptions
            {
                Version = result.GetValue(version) is > 0 and var v ? v : null,
                Partial = result.GetValue(partial),
                InFlight = Enum.Parse<InFlightPolicy>(result.GetRequiredValue(inFlight), ignoreCase: true),
            };
            return Run(result.GetRequiredValue(checkpoint), servers, options, result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
        });
        return command;
    }

    static readonly HttpClient Http = new() { Timeout = Timeout.InfiniteTimeSpan };

    static IWeightSender Sender(string target, string? token) =>
        target.StartsWith("unix:", StringComparison.Ordinal) ? new IpcWeightSender(target["unix:".Length..])
        : Uri.TryCreate(target, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? new HttpWeightSender(uri, token, Http)
        : throw new UsageException($"--to: '{target}' is neither an http(s) URL nor unix:SOCKET");

    static int Run(string path, IWeightSender[] senders, PushOptions options, TextWriter output, TextWriter error)
    {
        using var weights = SafetensorsWeights.Open(path);
        var outcomes = Task.WhenAll(senders.Select(async sender =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                return (sender.Target, Result: (CommitResult?)await sender.PushAsync(weights.Tensors, options), Error: (Exception?)null, Seconds: watch.Elapsed.TotalSeconds);
            }
            catch (WeightUpdateException e)
            {
                return (sender.Target, Result: (CommitResult?)null, Error: (Exception?)e, Seconds: watch.Elapsed.TotalSeconds);
            }
        })).GetAwaiter().GetResult();
        foreach (var (target, commit, failure, seconds) in outcomes)
        {
            if (commit is { } c)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{target}: version {c.Version}, sha256 {c.Sha256}, {c.Bytes} bytes in {c.Seconds:F3} s (staged and checked in {c.StagedSeconds:F3} s; {seconds:F3} s from the call to the commit)"));
            else
                error.WriteLine($"error: {target}: {failure!.Message}");
        }
        return outcomes.All(o => o.Result is not null) ? 0 : 1;
    }
}
