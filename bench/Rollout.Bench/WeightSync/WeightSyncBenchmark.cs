using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Rollout.Bench.Peer;
using Rollout.Bench.Serve;
using Rollout.Engine;
using Rollout.Engine.Sampling;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Loading;
using Rollout.WeightSync;
using Rollout.WeightSync.Channels;
using Rollout.WeightSync.Receiver;
using TorchSharp;

namespace Rollout.Bench.WeightSync;

/// <summary>
/// <c>rollout bench weightsync</c>: a full update of the stories110M-shaped model (536 MB fp32)
/// through each channel, against a one-thread memcpy and a raw loopback TCP copy of the same bytes
/// between two processes (HTTP and TCP the best of three transfers), in one run; and how long the
/// engine's steps stall while updates with <c>keep</c> apply under a batch-64 decode.
/// </summary>
internal static partial class WeightSyncBenchmark
{
    const string AdminToken = "bench";

    public static IReadOnlyDictionary<string, object> Run(bool quick, TextWriter log)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"rollout-bench-weightsync-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string model = Path.Combine(dir, "model.gguf");
            string checkpoint = Path.Combine(dir, "update");
            (quick ? (Action)(() => PeerModelFile.WriteTiny(model, 1)) : () => PeerModelFile.WriteStories110MShape(model, 1))();
            string other = Path.Combine(dir, "other.gguf");
            (quick ? (Action)(() => PeerModelFile.WriteTiny(other, 2)) : () => PeerModelFile.WriteStories110MShape(other, 2))();
            Dictionary<string, torch.Tensor> update;
            using (var second = ModelLoader.Load(other))
            {
                Directory.CreateDirectory(checkpoint);
                update = second.Model.CheckpointTensors().ToDictionary(t => t.Key, t => t.Value.detach().clone());
                SafetensorsWriter.Write(Path.Combine(checkpoint, "model.safetensors"), update);
            }
            long bytes = update.Values.Sum(t => t.numel() * t.element_size());
            log.WriteLine($"model: {(quick ? "tiny" : "stories110M-shaped")} llama, {bytes / 1e6:F0} MB of fp32 weights in {update.Count} tensors");

            double memcpy = MemcpyGbps(bytes);
            log.WriteLine($"memcpy (one thread, pre-touched):  {memcpy:F2} GB/s");
            // Best of three, as for HTTP below: both are single transfers on a machine that others share.
            double tcp = Enumerable.Range(0, 3).Max(_ => RawTcpGbps(Path.Combine(checkpoint, "model.safetensors")));
            log.WriteLine($"raw loopback TCP (two processes):  {tcp:F2} GB/s");

            var (inproc, inprocSeconds, stepMs, pauseSteps) = InProcess(model, update, quick, log);
            log.WriteLine($"in process:  {inproc:F2} GB/s staged and checked; update {inprocSeconds:F2} s from the call to the commit");
            log.WriteLine($"batch-64 decode step {stepMs:F1} ms; longest stall while a keep update applies: {pauseSteps:F2} steps (median of 5 updates)");

            using var server = ServerProcess.Start(["--model", model, "--port", "0", "--admin-token", AdminToken, "--kv-cache-bytes", "33554432",
                "--weights-socket", Path.Combine(dir, "weights.sock")], TimeSpan.FromMinutes(2));
            // Each channel's first update also allocates the engine's staging buffers; the second is measured.
            string socket = "unix:" + Path.Combine(dir, "weights.sock");
            Push(checkpoint, socket, version: 1);
            var (ipc, ipcSeconds) = Push(checkpoint, socket, version: 2);
            log.WriteLine($"IPC:   {ipc:F2} GB/s ({ipc / memcpy:F2}x memcpy); update {ipcSeconds:F2} s");
            Push(checkpoint, server.Address.ToString(), version: 3);
            var (http, httpSeconds) = Enumerable.Range(4, 3).Select(v => Push(checkpoint, server.Address.ToString(), version: v)).MaxBy(p => p.Gbps);
            log.WriteLine($"HTTP:  {http:F2} GB/s ({http / tcp:F2}x raw TCP); update {httpSeconds:F2} s");
            return new Dictionary<string, object>
            {
                ["bytes"] = bytes,
                ["memcpy_gbps"] = memcpy,
                ["tcp_raw_gbps"] = tcp,
                ["inproc_gbps"] = inproc,
                ["ipc_gbps"] = ipc,
                ["http_gbps"] = http,
                ["ipc_vs_memcpy"] = ipc / memcpy,
                ["http_vs_tcp_raw"] = http / tcp,
                ["update_seconds_inproc"] = inprocSeconds,
                ["update_seconds_ipc"] = ipcSeconds,
                ["update_seconds_http"] = httpSeconds,
                ["step_ms"] = stepMs,
                ["staged_pause_steps"] = pauseSteps,
            };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static unsafe double MemcpyGbps(long bytes)
    {
        var source = GC.AllocateUninitializedArray<byte>((int)Math.Min(bytes, int.MaxValue));
        var destination = new byte[source.Length];
        Random.Shared.NextBytes(source);
        Array.Fill(destination, (byte)1);
        double best = 0;
        for (int i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            source.AsSpan().CopyTo(destination);
            best = Math.Max(best, source.Length / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// A second process (dd into bash's /dev/tcp) writes the file to a loopback socket in 4 MiB writes, as
    /// <c>rollout weights push</c> writes its frames; the time from its first byte here to its last.
    /// </summary>
    static double RawTcpGbps(string file)
    {
        long length = new FileInfo(file).Length;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var sender = Process.Start(new ProcessStartInfo("bash", ["-c", $"dd if='{file}' bs=4M status=none > /dev/tcp/127.0.0.1/{port}"]) { UseShellExecute = false })!;
        using var client = listener.AcceptTcpClient();
        using var stream = client.GetStream();
        var buffer = new byte[1 << 20];
        // Pre-touched, as the memcpy's destination and the engine's staging are.
        var target = new byte[length];
        Array.Fill(target, (byte)1);
        int first = stream.Read(buffer);
        var watch = Stopwatch.StartNew();
        long received = first;
        Buffer.BlockCopy(buffer, 0, target, 0, first);
        while (received < length)
        {
            int n = stream.Read(target, (int)received, (int)Math.Min(int.MaxValue, length - received));
            if (n == 0) break;
            received += n;
        }
        sender.WaitForExit();
        return (received - first) / watch.Elapsed.TotalSeconds / 1e9;
    }

    static (double Gbps, double Seconds, double StepMs, double PauseSteps) InProcess(string model, Dictionary<string, torch.Tensor> update, bool quick, TextWriter log)
    {
        using var loaded = ModelLoader.Load(model);
        using var engine = LlmEngine.Create(loaded, new EngineOptions { KvCacheBytes = 256L << 20 });
        var receiver = new WeightReceiver(engine);
        var sender = new InProcessWeightSender(receiver);
        sender.PushAsync(update, new PushOptions()).GetAwaiter().GetResult();
        var watch = Stopwatch.StartNew();
        var result = sender.PushAsync(update, new PushOptions()).GetAwaiter().GetResult();
        double seconds = watch.Elapsed.TotalSeconds;
        double gbps = result.Bytes / result.StagedSeconds / 1e9;

        // 64 sequences decoding while updates apply with keep; one of them times every step.
        var random = new Random(3);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = quick ? 64 : 400, IgnoreEos = true };
        var requests = Enumerable.Range(0, 64).Select(_ => engine.AddRequest(Enumerable.Range(0, 32).Select(_ => random.Next(3, 300)).ToArray(), sampling)).ToArray();
        var steps = new List<long>();
        var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var timing = Task.Run(async () =>
        {
            await foreach (var _ in requests[0].Outputs)
                lock (steps)
                {
                    steps.Add(Stopwatch.GetTimestamp());
                    if (steps.Count == 8) warm.SetResult();
                }
        });
        warm.Task.GetAwaiter().GetResult();
        var windows = new List<(long Start, long End)>();
        for (int i = 0; i < 5; i++)
        {
            // Updates spaced out so each lands among ordinary decode steps, not right after the previous one.
            Thread.Sleep(quick ? 20 : 300);
            long start = Stopwatch.GetTimestamp();
            sender.PushAsync(update, new PushOptions { InFlight = InFlightPolicy.Keep }).GetAwaiter().GetResult();
            windows.Add((start, Stopwatch.GetTimestamp()));
        }
        foreach (var r in requests.Skip(1)) engine.Abort(r.RequestId);
        engine.Abort(requests[0].RequestId);
        timing.GetAwaiter().GetResult();
        long[] times;
        lock (steps) times = steps.ToArray();
        var gaps = times.Zip(times.Skip(1), (a, b) => (End: b, Ms: Stopwatch.GetElapsedTime(a, b).TotalMilliseconds)).ToArray();
        double median = gaps.Select(g => g.Ms).Order().ElementAt(gaps.Length / 2);
        var stalls = windows.Select(w => gaps.Where(g => g.End >= w.Start).TakeWhile(g => g.End <= w.End + Stopwatch.Frequency).Select(g => g.Ms).DefaultIfEmpty(0).Max() / median)
            .Order().ToArray();
        log.WriteLine($"  keep-update stalls (steps): {string.Join(", ", stalls.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}");
        return (gbps, seconds, engine.Metrics.MeanDecodeStepTime.TotalMilliseconds, stalls[stalls.Length / 2]);
    }

    /// <summary>Pushes the checkpoint from a <c>rollout weights push</c> child process; the transfer rate and the update's seconds it reports.</summary>
    static (double Gbps, double Seconds) Push(string checkpoint, string target, long version)
    {
        var psi = RolloutProcess.StartInfo(["weights", "push", checkpoint, "--to", target, "--admin-token", AdminToken, "--version", version.ToString(CultureInfo.InvariantCulture)]);
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        var m = Pushed().Match(output);
        if (process.ExitCode != 0 || !m.Success) throw new InvalidOperationException($"rollout weights push to {target} failed: {error}{output}");
        double bytes = double.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture);
        double staged = double.Parse(m.Groups["staged"].Value, CultureInfo.InvariantCulture);
        double call = double.Parse(m.Groups["call"].Value, CultureInfo.InvariantCulture);
        return (bytes / staged / 1e9, call);
    }

    [GeneratedRegex(@"(?<bytes>\d+) bytes in [\d.]+ s \(staged and checked in (?<staged>[\d.]+) s; (?<call>[\d.]+) s from the call to the commit\)")]
    private static partial Regex Pushed();
}
