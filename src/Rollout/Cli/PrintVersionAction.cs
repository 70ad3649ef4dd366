using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace Rollout.Cli;

/// <summary>
/// What <c>rollout --version</c> does: prints this assembly's version. System.CommandLine's own
/// action prints the entry assembly's, which under a test host is the host's.
/// </summary>
internal sealed class PrintVersionAction : SynchronousCommandLineAction
{
    /// <inheritdoc />
    public override int Invoke(ParseResult parseResult)
    {
        var assembly = typeof(PrintVersionAction).Assembly;
        string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
        parseResult.InvocationConfiguration.Output.WriteLine($"rollout {version}");
        return 0;
    }
}
