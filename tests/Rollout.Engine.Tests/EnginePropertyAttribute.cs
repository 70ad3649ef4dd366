using FsCheck.Xunit;

namespace Rollout.Engine.Tests;

/// <summary>FsCheck property with this project's generators and a test count that keeps the suite fast.</summary>
public sealed class EnginePropertyAttribute : PropertyAttribute
{
    public EnginePropertyAttribute()
    {
        Arbitrary = [typeof(EngineArbitraries)];
        MaxTest = 100;
    }
}
