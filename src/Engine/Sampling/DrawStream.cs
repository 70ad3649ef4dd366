namespace Rollout.Engine.Sampling;

/// <summary>
/// Which counter-based stream a uniform number comes from: each use has its own, so a seeded sequence's plain draws
/// are the same whether or not speculation ran, and acceptance tests never reuse a number a draw used.
/// </summary>
internal enum DrawStream
{
    /// <summary>The draw of a token from the processed distribution (plain decoding, and the bonus token of a verify).</summary>
    Sample = 0,

    /// <summary>Whether a proposed token is accepted.</summary>
    Accept = 1,

    /// <summary>The replacement drawn at the first rejected proposal.</summary>
    Residual = 2,
}
