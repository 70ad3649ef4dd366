using Rollout.Client;

namespace Rollout.Rewards;

/// <summary>
/// Scores groups of trajectories with a weighted sum of named components, then summarises each group and
/// computes its advantages. Every component sees the whole batch in one call, all components at once,
/// each call bounded by the timeout. A call that throws, times out, returns a wrong count or a non-finite
/// value fails only the items it affects, and the outcome says so: a pipeline call always completes,
/// unless its caller cancels it. The pipeline decides nothing about what a failure is worth beyond
/// <see cref="RewardPipelineOptions.FailedComponentValue"/>.
/// </summary>
public sealed class RewardPipeline
{
    readonly RewardComponent[] _components;
    readonly RewardPipelineOptions _options;

    /// <summary>A pipeline over <paramref name="components"/>: at least one, with distinct names and finite weights.</summary>
    public RewardPipeline(IEnumerable<RewardComponent> components, RewardPipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(components);
        _components = components.ToArray();
        _options = options ?? new RewardPipelineOptions();
        if (_components.Length == 0) throw new ArgumentException("a pipeline needs at least one component", nameof(components));
        foreach (var component in _components)
        {
            ArgumentNullException.ThrowIfNull(component, nameof(components));
            if (string.IsNullOrEmpty(component.Name)) throw new ArgumentException("every component needs a name", nameof(components));
            ArgumentNullException.ThrowIfNull(component.Function, nameof(components));
            if (!float.IsFinite(component.Weight))
                throw new ArgumentException($"component '{component.Name}' has weight {component.Weight}: weights must be finite", nameof(components));
        }
        var repeated = _components.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null) throw new ArgumentException($"two components are named '{repeated.Key}'", nameof(components));
        if (_options.Timeout <= TimeSpan.Zero) throw new ArgumentException("the timeout must be positive", nameof(options));
        if (_options.FailedComponentValue is { } failed && !float.IsFinite(failed))
            throw new ArgumentException($"the failed component value is {failed}: it must be finite", nameof(options));
    }

    /// <summary>
    /// Scores every trajectory of <paramref name="groups"/>, in order. <paramref name="references"/>, where
    /// given, holds one reference per group (by position in <paramref name="groups"/>) that every
    /// completion of the group sees as <see cref="RewardInput.Reference"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; nothing is returned.</exception>
    public async Task<IReadOnlyList<GroupRewards>> ScoreAsync(IReadOnlyList<TrajectoryGroup> groups, IReadOnlyList<string?>? references = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (references is not null && references.Count != groups.Count)
            throw new ArgumentException($"{references.Count} references for {groups.Count} groups", nameof(references));
        var inputs = groups.SelectMany((group, g) => group.Trajectories.Select(t => RewardInput.Of(t, references?[g]))).ToArray();

        var scores = await Task.WhenAll(_components.Select(c => RunAsync(c, inputs, cancellationToken)));

        var results = new GroupRewards[groups.Count];
        int item = 0;
        for (int g = 0; g < groups.Count; g++)
        {
            var outcomes = new RewardOutcome[groups[g].Trajectories.Count];
            for (int i = 0; i < outcomes.Length; i++) outcomes[i] = Combine(scores, item++);
            results[g] = Summarise(groups[g], outcomes);
        }
        return results;
    }

    /// <summary>One component's value, or why it has none, for one item.</summary>
    readonly record struct Score(float Value, RewardFailure? Failure);

    async Task<Score[]> RunAsync(RewardComponent component, RewardInput[] inputs, CancellationToken cancellationToken)
    {
        if (inputs.Length == 0) return [];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.Timeout);
        IReadOnlyList<float>? values;
        try
        {
            // Task.Run: a function that blocks before returning its task is abandoned at the deadline, as
            // is one whose task ignores the token and never completes.
            values = await Task.Run(() => component.Function.ScoreAsync(inputs, deadline.Token)).WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return FailAll(RewardFailureKind.Timeout, $"no answer within {_options.Timeout}");
        }
        catch (Exception e)
        {
            return FailAll(RewardFailureKind.Exception, e.Message);
        }
        if (values is null || values.Count != inputs.Length)
            return FailAll(RewardFailureKind.WrongCount, $"{(values is null ? "no list" : $"{values.Count} values")} for {inputs.Length} inputs");
        return values.Select(v => float.IsFinite(v) ? new Score(v, null) : new Score(0, Fail(RewardFailureKind.NonFinite, v.ToString()))).ToArray();

        RewardFailure Fail(RewardFailureKind kind, string detail) => new(component.Name, kind, detail);
        Score[] FailAll(RewardFailureKind kind, string detail) => Enumerable.Repeat(new Score(0, Fail(kind, detail)), inputs.Length).ToArray();
    }

    RewardOutcome Combine(Score[][] scores, int item)
    {
        var values = new Dictionary<string, float>(_components.Length);
        var failures = new List<RewardFailure>();
        double sum = 0;
        for (int c = 0; c < _components.Length; c++)
        {
            var (value, failure) = scores[c][item];
            if (failure is null) values[_components[c].Name] = value;
            else failures.Add(failure);
            sum += (double)_components[c].Weight * (failure is null ? value : _options.FailedComponentValue ?? 0);
        }
        float? total = failures.Count > 0 && _options.FailedComponentValue is null ? null : (float)sum;
        // Finite values and weights can still sum past float's range; such a total would poison the group's advantages.
        if (total is { } t && !float.IsFinite(t))
        {
            failures.Add(new RewardFailure("total", RewardFailureKind.NonFinite, $"the weighted sum {sum} overflows a float"));
            total = null;
        }
        return new RewardOutcome(total, values, failures);
    }

    GroupRewards Summarise(TrajectoryGroup group, RewardOutcome[] outcomes)
    {
        var scored = Enumerable.Range(0, outcomes.Length).Where(i => outcomes[i].Total is not null).ToArray();
        var totals = scored.Select(i => outcomes[i].Total!.Value).ToArray();
        var scoredAdvantages = GroupAdvantages.Compute(_options.AdvantageMethod, totals);
        var advantages = new float[outcomes.Length];
        for (int k = 0; k < scored.Length; k++) advantages[scored[k]] = scoredAdvantages[k];
        return new GroupRewards(group, outcomes, GroupStats.Of(totals, _options.SolvedThreshold), advantages);
    }
}
