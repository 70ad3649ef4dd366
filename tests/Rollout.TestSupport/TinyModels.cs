using System.Collections.Concurrent;
using Rollout.Models.Testing;

namespace Rollout.TestSupport;

/// <summary>
/// Tiny seeded HF model directories, written once per test process (in a temp folder removed at
/// exit) through the same factory the CLI and benchmarks use.
/// </summary>
public static class TinyModels
{
    static readonly string Root = Path.Combine(Path.GetTempPath(), $"rollout-tests-{Environment.ProcessId}");
    static readonly ConcurrentDictionary<string, Lazy<string>> Made = new();

    static TinyModels()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (System.IO.Directory.Exists(Root)) System.IO.Directory.Delete(Root, recursive: true);
        };
    }

    /// <summary>Every causal-LM architecture the factory can write.</summary>
    public static IEnumerable<object[]> CausalArchitectures =>
        new[] { "LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM" }.Select(a => new object[] { a });

    /// <summary>The directory of a tiny model of <paramref name="architecture"/> (created on first use).</summary>
    public static string Directory(string architecture, TinyModelOptions? options = null)
    {
        options ??= new TinyModelOptions();
        string key = $"{architecture}-{options.GetHashCode():x8}";
        return Made.GetOrAdd(key, k => new Lazy<string>(() =>
        {
            string dir = Path.Combine(Root, k);
            TinyModelFactory.Write(dir, architecture, options);
            return dir;
        })).Value;
    }

    /// <summary>A fresh empty temp folder under this process's test root.</summary>
    public static string TempFolder()
    {
        string dir = Path.Combine(Root, "tmp-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }
}
