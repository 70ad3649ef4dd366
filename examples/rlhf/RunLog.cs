using System.Globalization;

namespace Rollout.Examples.Rlhf;

/// <summary>The per-step CSV, written as the run goes so a crashed run keeps what it did.</summary>
internal sealed class RunLog : IDisposable
{
    readonly StreamWriter _csv;

    public RunLog(string path)
    {
        _csv = new StreamWriter(path) { AutoFlush = true };
        _csv.WriteLine("step,reward,train_accuracy,heldout_accuracy,kl,tokens_per_second,sync_seconds,logprob_diff_max");
    }

    public List<StepRecord> Records { get; } = [];

    public void Add(StepRecord r)
    {
        Records.Add(r);
        string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        _csv.WriteLine(string.Join(',', r.Step, F(r.Reward), F(r.TrainAccuracy), r.HeldOutAccuracy is { } h ? F(h) : "",
            F(r.Kl), F(r.TokensPerSecond), F(r.SyncSeconds), F(r.LogprobGapMax)));
    }

    public void Dispose() => _csv.Dispose();
}
