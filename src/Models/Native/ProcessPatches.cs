using System.Diagnostics;

namespace Rollout.Models.Native;

/// <summary>
/// The one place where this project changes process-wide native state for the CPU fast path
/// (<see cref="CpuKernels.Fast"/>): MKL's kernel choice (<see cref="MklCpuDispatch"/>), applied when a
/// model is created, and glibc's memory retention (<see cref="HostMemoryRetention"/>), applied when an
/// engine is created. Each is applied at most once per process and logged once, through
/// <see cref="Trace"/> and <see cref="Applied"/>; nothing is applied for <see cref="CpuKernels.Reference"/>
/// or a model off the CPU.
/// </summary>
public static class ProcessPatches
{
    static readonly Lock Gate = new();
    static readonly List<string> Log = [];
    static bool _model, _engine;

    /// <summary>What has been applied to this process so far, one line each.</summary>
    public static IReadOnlyList<string> Applied
    {
        get
        {
            lock (Gate) return Log.ToArray();
        }
    }

    /// <summary>Applies what a model's fast path needs before its first product: MKL's AVX-512 kernels on non-Intel CPUs.</summary>
    public static void ForModel(ModelOptions options)
    {
        if (!Wanted(options)) return;
        lock (Gate)
        {
            if (_model) return;
            _model = true;
            var state = MklCpuDispatch.Apply();
            Record($"MKL dispatch: {state}" + (state == MklDispatchState.Applied ? " (its AVX-512 kernels on this non-Intel CPU)" : ""));
        }
    }

    /// <summary>Applies what an engine's fast path needs: glibc keeping freed memory warm for the next step.</summary>
    public static void ForEngine(ModelOptions options)
    {
        if (!Wanted(options)) return;
        lock (Gate)
        {
            if (_engine) return;
            _engine = true;
            if (HostMemoryRetention.Apply() is { } applied) Record(applied);
        }
    }

    static bool Wanted(ModelOptions options) =>
        options.CpuKernels == CpuKernels.Fast && options.Device.type == TorchSharp.DeviceType.CPU;

    static void Record(string line)
    {
        Log.Add(line);
        Trace.TraceInformation($"rollout: {line}");
    }
}
