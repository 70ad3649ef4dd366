namespace Rollout.Examples.Rlhf;

/// <summary>Everything a run is shaped by; the defaults are the run the README's first command makes.</summary>
internal sealed record RunOptions
{
    public WeightChannel Channel { get; init; } = WeightChannel.Inproc;
    public int Steps { get; init; } = 500;
    public int PromptsPerStep { get; init; } = 64;
    public int GroupSize { get; init; } = 8;
    public int Digits { get; init; } = 2;
    public int HiddenSize { get; init; } = 128;
    public int Layers { get; init; } = 2;
    public int HeldOutProblems { get; init; } = 200;

    /// <summary>The supervised warm-up stops once the policy solves this fraction of a validation set drawn from the training problems.</summary>
    public double WarmupTarget { get; init; } = 0.10;
    public int WarmupMaxSteps { get; init; } = 3000;
    public double WarmupLearningRate { get; init; } = 3e-3;
    public double LearningRate { get; init; } = 3e-4;
    public double Clip { get; init; } = 0.2;
    public double KlWeight { get; init; } = 0.0;
    public int EvalEvery { get; init; } = 10;
    public int Seed { get; init; } = 7;
    public string OutputDirectory { get; init; } = "rlhf-out";
    public string? SummaryJson { get; init; }

    /// <summary>Trainer and engine on the batch-invariant kernels: the engine's logprobs then equal the trainer's bit for bit.</summary>
    public bool BatchInvariant { get; init; }

    /// <summary>The model options of the trainer's policy and of the engine's copy alike.</summary>
    public Rollout.Models.ModelOptions ModelOptions => new() { CpuKernels = BatchInvariant ? Rollout.Models.CpuKernels.BatchInvariant : Rollout.Models.CpuKernels.Fast };
}
