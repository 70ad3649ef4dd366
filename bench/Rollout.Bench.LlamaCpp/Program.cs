using System.Text.Json;
using LLama.Native;

namespace Rollout.Bench.LlamaCpp;

/// <summary>
/// The llama.cpp side of the peer benchmark: a long-lived child process that reads one JSON request per
/// line on stdin and answers each with one JSON line on stdout. The first line loads the model; every
/// later line is a job. An empty line or end of input ends the process.
/// </summary>
static class Program
{
    static async Task<int> Main()
    {
        // Only answers may reach the parent's reader: anything else written through Console goes to stderr.
        using var answers = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true, NewLine = "\n" };
        Console.SetOut(Console.Error);
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            // llama.cpp logs every tensor at load; keep what explains a failure.
            if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error) Console.Error.Write(message);
        });

        using var input = new StreamReader(Console.OpenStandardInput());
        LlamaCppSession? session = null;
        try
        {
            while (await input.ReadLineAsync() is { Length: > 0 } line)
                answers.WriteLine(await AnswerAsync(line, session, loaded => session = loaded));
        }
        finally
        {
            session?.Dispose();
        }
        return 0;
    }

    static async Task<string> AnswerAsync(string line, LlamaCppSession? session, Action<LlamaCppSession> onLoaded)
    {
        try
        {
            if (session is null)
            {
                onLoaded(await LlamaCppSession.LoadAsync(Parse<LoadRequest>(line)));
                return JsonSerializer.Serialize(new LoadAnswer(true), Protocol.Json);
            }
            return JsonSerializer.Serialize(await session.RunAsync(Parse<JobRequest>(line)), Protocol.Json);
        }
        catch (Exception e)
        {
            return JsonSerializer.Serialize(new ErrorAnswer(Describe(e)), Protocol.Json);
        }
    }

    static T Parse<T>(string line) =>
        JsonSerializer.Deserialize<T>(line, Protocol.Json) ?? throw new JsonException($"expected a {typeof(T).Name}, got null");

    // A missing native library surfaces as a TypeInitializationException around the real reason.
    static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
            messages.Add($"{current.GetType().Name}: {current.Message}");
        return string.Join(" ---> ", messages);
    }
}
