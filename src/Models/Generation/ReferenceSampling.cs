namespace Rollout.Models.Generation;

/// <summary>Settings of the reference generator: greedy or seeded temperature sampling.</summary>
public sealed record ReferenceSampling
{
    /// <summary>0 picks the most likely token (lowest id on ties); above 0 samples from softmax(logits / T).</summary>
    public double Temperature { get; init; }
    /// <summary>Seed of the sampling draws; the same seed gives the same tokens.</summary>
    public int Seed { get; init; }
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 64;
    /// <summary>Ids that end generation (returned as the last token).</summary>
    public IReadOnlyCollection<int> StopTokenIds { get; init; } = [];

    internal void Validate()
    {
        if (!double.IsFinite(Temperature) || Temperature < 0)
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be a finite number >= 0");
        if (MaxTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "max tokens must be >= 0");
    }
}
