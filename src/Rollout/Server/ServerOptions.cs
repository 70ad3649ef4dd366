namespace Rollout.Server;

/// <summary>How <c>rollout serve</c> listens, whom it lets in and how much one request may ask for.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind; loopback unless told otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port to bind; 0 takes a free one (the bound address is in <see cref="RolloutServer.Address"/>).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>Bearer key required on the user endpoints (<c>/v1/*</c>, <c>/tokenize</c>, <c>/rl/generate</c>); none when null.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Bearer token required on the endpoints that pause, resume, abort or change weights; they refuse everyone when null.</summary>
    public string? AdminToken { get; init; }

    /// <summary>The model name clients send and see; the model's folder or file name when null.</summary>
    public string? ServedModelName { get; init; }

    /// <summary>Most completions one request may ask for in all (prompts x n).</summary>
    public int MaxRequestSequences { get; init; } = 4096;

    /// <summary>A Unix domain socket on which trainers on this host push weight updates over shared memory; none when null.</summary>
    public string? WeightsSocket { get; init; }

    /// <summary>Largest request body, in bytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = 32L << 20;

    /// <summary>How long a stopping server lets in-flight requests finish before it aborts them.</summary>
    public TimeSpan ShutdownDeadline { get; init; } = TimeSpan.FromSeconds(4);
}
