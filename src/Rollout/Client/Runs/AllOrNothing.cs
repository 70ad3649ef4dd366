namespace Rollout.Client.Runs;

/// <summary>Runs calls side by side; when one fails the others are cancelled and waited for, so none is left running, and its error is thrown.</summary>
internal static class AllOrNothing
{
    public static async Task<T[]> RunAsync<T>(int count, Func<int, CancellationToken, Task<T>> start, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var calls = new Task<T>[count];
        for (int i = 0; i < count; i++) calls[i] = start(i, cancel.Token);
        try
        {
            return await Task.WhenAll(calls);
        }
        catch
        {
            await cancel.CancelAsync();
            await ((Task)Task.WhenAll(calls)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
    }
}
