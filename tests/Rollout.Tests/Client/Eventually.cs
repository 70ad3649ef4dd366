namespace Rollout.Tests.Client;

/// <summary>Waits for a state another thread brings about; fails with <paramref name="what"/> if it has not come within the timeout.</summary>
internal static class Eventually
{
    public static async Task HoldsAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(2);
        }
    }
}
