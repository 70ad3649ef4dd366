namespace Rollout.Cli;

/// <summary>The command line is wrong: the message says how; the CLI exits with code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
