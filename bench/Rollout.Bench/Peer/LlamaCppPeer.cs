using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Rollout.Bench.Peer;

/// <summary>
/// llama.cpp (LLamaSharp's <c>BatchedExecutor</c>) in a child process, so its native libraries never share
/// a process with libtorch. It speaks line-delimited JSON: the first line loads the model, each later line
/// runs a <see cref="LlamaCppJob"/>. Not thread-safe: one request at a time.
/// </summary>
public sealed class LlamaCppPeer : IDisposable
{
    // The build copies bench/Rollout.Bench.LlamaCpp's output here, beside this assembly (see Rollout.Bench.csproj).
    const string ChildFolder = "llamacpp";
    const string ChildAssembly = "Rollout.Bench.LlamaCpp.dll";
    const int StderrLinesKept = 100;
    static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);
    static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);

    readonly Process process;
    readonly TimeSpan timeout;
    readonly Queue<string> stderrTail = new();
    bool disposed;

    LlamaCppPeer(Process process, TimeSpan timeout)
    {
        this.process = process;
        this.timeout = timeout;
    }

    /// <summary>
    /// Starts the child and loads the model with an F32 KV cache, one KV stream per sequence.
    /// </summary>
    /// <param name="modelPath">The GGUF file.</param>
    /// <param name="threads">llama.cpp's threads for decode and prefill; give Rollout the same.</param>
    /// <param name="contextSize">KV slots in all; each sequence gets <paramref name="contextSize"/> / <paramref name="maxSequences"/>.</param>
    /// <param name="maxSequences">The most sequences one job may hold.</param>
    /// <param name="timeout">How long any one request may take (default 10 minutes); the child is killed when it passes.</param>
    /// <exception cref="LlamaCppPeerException">The child is missing, could not start, or could not load the model.</exception>
    public static LlamaCppPeer Start(string modelPath, int threads, int contextSize, int maxSequences, TimeSpan? timeout = null)
    {
        string child = Path.Combine(Path.GetDirectoryName(typeof(LlamaCppPeer).Assembly.Location)!, ChildFolder, ChildAssembly);
        if (!File.Exists(child))
            throw new LlamaCppPeerException($"{child} is missing: building Rollout.Bench copies bench/Rollout.Bench.LlamaCpp's output there (and beside every project that references it); rebuild");
        var info = new ProcessStartInfo(DotnetHost())
        {
            ArgumentList = { child },
            WorkingDirectory = Path.GetDirectoryName(child)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        var process = new Process { StartInfo = info };
        var peer = new LlamaCppPeer(process, timeout ?? DefaultTimeout);
        process.ErrorDataReceived += (_, e) => peer.KeepStderr(e.Data);
        try
        {
            process.Start();
            process.BeginErrorReadLine();
            peer.Exchange(new PeerLoadRequest(Path.GetFullPath(modelPath), threads, contextSize, maxSequences), PeerJson.Default.PeerLoadRequest, loading: true);
            return peer;
        }
        catch (Exception e)
        {
            peer.Dispose();
            throw e is LlamaCppPeerException ? e : new LlamaCppPeerException($"could not start the llama.cpp peer: {e.Message}", e);
        }
    }

    /// <summary>Runs <paramref name="job"/> in the child and returns its timings and tokens.</summary>
    /// <exception cref="LlamaCppPeerException">The child refused the job (it keeps serving), timed out or died.</exception>
    public LlamaCppResult Run(LlamaCppJob job)
    {
        var request = new PeerJobRequest(job.Workload, job.Prompts, job.NewTokens, job.FirstStepLogits);
        var answer = Exchange(request, PeerJson.Default.PeerJobRequest, loading: false);
        return answer.Deserialize(PeerJson.Default.LlamaCppResult) ?? throw new LlamaCppPeerException("the llama.cpp peer answered null");
    }

    /// <summary>
    /// Stops the child (SIGSTOP) until <see cref="Resume"/>, so that nothing it still does after an answer
    /// (its runtime's background work, llama.cpp's threads winding down) takes a core from the engine being
    /// timed: measured here, an idle peer's process sometimes used half a core for seconds after answering.
    /// No-op where POSIX signals are not available.
    /// </summary>
    public void Pause() => Signal(Sigstop);

    /// <summary>Lets a <see cref="Pause"/>d child run again.</summary>
    public void Resume() => Signal(Sigcont);

    /// <summary>The child's process id (for tests).</summary>
    internal int ProcessId => process.Id;

    const int Sigcont = 18, Sigstop = 19;

    void Signal(int signal)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!OperatingSystem.IsLinux() || process.HasExited) return;
        if (kill(process.Id, signal) != 0)
            throw new LlamaCppPeerException($"could not send signal {signal} to the llama.cpp peer (pid {process.Id}): errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    /// <summary>Asks the child to exit, and kills it if it does not within a few seconds.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        try
        {
            if (!process.HasExited)
            {
                if (OperatingSystem.IsLinux()) kill(process.Id, Sigcont);
                process.StandardInput.WriteLine();
                process.StandardInput.Close();
                if (!process.WaitForExit(ExitGrace)) process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // Never started, or already gone: nothing left to stop.
        }
        process.Dispose();
    }

    // A refused load is explained by llama.cpp's log on stderr; a refused job by the answer alone.
    JsonElement Exchange<T>(T request, JsonTypeInfo<T> type, bool loading)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        try
        {
            process.StandardInput.WriteLine(JsonSerializer.Serialize(request, type));
            process.StandardInput.Flush();
        }
        catch (IOException e)
        {
            throw Died(e);
        }

        string? line;
        using (var cancel = new CancellationTokenSource(timeout))
        {
            try
            {
                line = process.StandardOutput.ReadLineAsync(cancel.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new LlamaCppPeerException($"the llama.cpp peer gave no answer within {timeout}; killed it.{StderrTail()}");
            }
        }
        if (line is null) throw Died(null);

        using var answer = JsonDocument.Parse(line);
        if (answer.RootElement.TryGetProperty("error", out var error))
            throw new LlamaCppPeerException($"llama.cpp peer: {error.GetString()}{(loading ? StderrTail() : "")}");
        return answer.RootElement.Clone();
    }

    LlamaCppPeerException Died(Exception? inner)
    {
        // Waiting for exit also drains the stderr reader, so the tail below is complete.
        string code = process.WaitForExit(ExitGrace) ? process.ExitCode.ToString() : "unknown; still running";
        if (process.HasExited) process.WaitForExit();
        return new LlamaCppPeerException($"the llama.cpp peer exited (code {code}).{StderrTail()}", inner);
    }

    void KeepStderr(string? line)
    {
        if (line is null) return;
        lock (stderrTail)
        {
            stderrTail.Enqueue(line);
            if (stderrTail.Count > StderrLinesKept) stderrTail.Dequeue();
        }
    }

    string StderrTail()
    {
        lock (stderrTail)
            return stderrTail.Count == 0 ? "" : $" Its stderr ends with:{Environment.NewLine}{string.Join(Environment.NewLine, stderrTail)}";
    }

    // The runtime we run on lives in <root>/shared/Microsoft.NETCore.App/<version>/, and <root>/dotnet is
    // its muxer; when this process was started by an apphost, its own path is not a dotnet we can use.
    static string DotnetHost()
    {
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }
}
