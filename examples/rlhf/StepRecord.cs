namespace Rollout.Examples.Rlhf;

/// <summary>One GRPO step's figures, as the CSV and the plot take them.</summary>
internal sealed record StepRecord(int Step, double Reward, double TrainAccuracy, double? HeldOutAccuracy, double Kl,
    double TokensPerSecond, double SyncSeconds, double LogprobGapMax);
